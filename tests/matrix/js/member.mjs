// A member of a debate using matrix-js-sdk with its Rust crypto, as Element Web does.
//
// Usage: node member.mjs '<json>' with {baseUrl, userId, password, bot, steps: [{send, expect,
// mode}]}. The member bootstraps its own cross-signing, opens an encrypted DM with the bot,
// then for each step sets the device isolation mode ("strict": OnlySignedDevicesIsolationMode,
// "lenient": AllDevicesIsolationMode), sends the command and waits for the bot's reply that
// contains `expect`. It prints one JSON object: for each step, the reply and the shield that
// getEncryptionInfoForEvent gives it. It exits 1 (with the reason on stderr) if a step fails.

import { ClientEvent, createClient } from "matrix-js-sdk";
import {
  AllDevicesIsolationMode,
  OnlySignedDevicesIsolationMode,
  EventShieldColour,
  EventShieldReason,
} from "matrix-js-sdk/lib/crypto-api/index.js";
import { logger } from "matrix-js-sdk/lib/logger.js";

const WAIT_MS = 60_000;
const config = JSON.parse(process.argv[2]);
logger.setLevel("error");

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(what, check, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function login() {
  const anonymous = createClient({ baseUrl: config.baseUrl });
  const answer = await anonymous.loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user: config.userId },
    password: config.password,
    initial_device_display_name: "js-sdk member",
  });
  return createClient({
    baseUrl: config.baseUrl,
    userId: answer.user_id,
    deviceId: answer.device_id,
    accessToken: answer.access_token,
  });
}

async function start(client) {
  await client.initRustCrypto({ useIndexedDB: false });
  const prepared = new Promise((resolve) => {
    client.on(ClientEvent.Sync, (state) => {
      if (state === "PREPARED") resolve();
    });
  });
  await client.startClient({ initialSyncLimit: 20 });
  await prepared;
  const crypto = client.getCrypto();
  await crypto.bootstrapCrossSigning({
    authUploadDeviceSigningKeys: async (makeRequest) => {
      await makeRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: config.userId },
        password: config.password,
      });
    },
  });
  if (!(await crypto.isCrossSigningReady())) throw new Error("the member is not cross-signed");
  return crypto;
}

async function openDm(client) {
  const { room_id: roomId } = await client.createRoom({
    is_direct: true,
    invite: [config.bot],
    preset: "trusted_private_chat",
    initial_state: [
      {
        type: "m.room.encryption",
        state_key: "",
        content: { algorithm: "m.megolm.v1.aes-sha2" },
      },
    ],
  });
  await until("the bot to join the DM", () => {
    const room = client.getRoom(roomId);
    return room && room.hasEncryptionStateEvent() && room.getMember(config.bot)?.membership === "join";
  });
  return roomId;
}

function describe(client, roomId) {
  return client
    .getRoom(roomId)
    .getLiveTimeline()
    .getEvents()
    .map((e) => `${e.getSender() === config.bot ? "bot" : "member"} ${e.getType()}: ${e.isDecryptionFailure() ? `undecryptable (${e.decryptionFailureReason})` : JSON.stringify(e.getContent().body ?? "").slice(0, 80)}`)
    .join("\n");
}

async function replyTo(client, roomId, sentId, expect) {
  try {
    return await waitReply(client, roomId, sentId, expect);
  } catch (error) {
    throw new Error(`${error.message}; the DM holds:\n${describe(client, roomId)}`);
  }
}

async function waitReply(client, roomId, sentId, expect) {
  return until(`a reply containing ${JSON.stringify(expect)}`, async () => {
    const events = client.getRoom(roomId).getLiveTimeline().getEvents();
    const sent = events.findIndex((e) => e.getId() === sentId);
    if (sent < 0) return null;
    for (const event of events.slice(sent + 1)) {
      if (event.getSender() !== config.bot || event.getType() === "m.reaction") continue;
      await client.decryptEventIfNeeded(event);
      if (event.isDecryptionFailure()) {
        throw new Error(`a reply of the bot failed to decrypt: ${event.decryptionFailureReason}`);
      }
      const body = event.getContent().body ?? "";
      if (body.includes(expect)) return event;
    }
    return null;
  });
}

async function main() {
  const client = await login();
  const crypto = await start(client);
  const roomId = await openDm(client);
  await crypto.getUserDeviceInfo([config.bot], true);
  const results = [];
  let mode = null;
  for (const step of config.steps) {
    if (step.mode !== mode) {
      mode = step.mode;
      crypto.setDeviceIsolationMode(
        mode === "lenient" ? new AllDevicesIsolationMode(false) : new OnlySignedDevicesIsolationMode(),
      );
    }
    const { event_id: sentId } = await client.sendMessage(roomId, {
      msgtype: "m.text",
      body: step.send,
    });
    const reply = await replyTo(client, roomId, sentId, step.expect);
    const info = await crypto.getEncryptionInfoForEvent(reply);
    results.push({
      send: step.send,
      mode: step.mode,
      body: reply.getContent().body,
      encrypted: reply.isEncrypted(),
      shieldColour: info === null ? null : EventShieldColour[info.shieldColour],
      shieldReason: info?.shieldReason == null ? null : EventShieldReason[info.shieldReason],
    });
  }
  client.stopClient();
  process.stdout.write(JSON.stringify({ roomId, results }) + "\n");
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
