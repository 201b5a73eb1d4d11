"""Message catalogues (French and English).

Every sentence the bot says lives here, keyed by a message id, with ``str.format`` fields.
``tests/test_i18n.py`` checks that both catalogues have the same ids and the same fields.
"""

from __future__ import annotations

from typing import Any

STANCE_LABELS: dict[str, dict[str, str]] = {
    "fr": {"pour": "Pour", "contre": "Contre", "nuance": "Nuancé", "abstention": "Abstention"},
    "en": {"pour": "For", "contre": "Against", "nuance": "Mixed", "abstention": "Abstain"},
}

# Words members may type for a stance, in either language.
STANCE_ALIASES: dict[str, str] = {
    "pour": "pour",
    "for": "pour",
    "contre": "contre",
    "against": "contre",
    "nuance": "nuance",
    "nuancé": "nuance",
    "nuancee": "nuance",
    "nuancée": "nuance",
    "mixed": "nuance",
    "abstention": "abstention",
    "abstain": "abstention",
}

CATALOGUES: dict[str, dict[str, str]] = {
    "fr": {
        "help": (
            "**Participer au débat** (vos réponses sont anonymes)\n"
            "• `!position <numéro> [argument]` — donner ou changer votre position (son numéro,"
            " son identifiant ou son libellé, ci-dessous), avec un argument facultatif\n"
            "• `!position <code> <position> [argument]` — si plusieurs tours sont ouverts\n"
            "• `!ma-position` — voir votre position et vos arguments\n"
            "• `!retirer` — retirer votre position, vos arguments et vos votes\n"
            "• `!voter` — voter sur les arguments des autres : répondez `1` (d'accord), "
            "`2` (pas d'accord) ou `3` (passer)\n"
            "• `!aide` — cette aide"
        ),
        "help_moderator": (
            "**Modération**\n"
            "• `!debat ouvrir <débat>` — ouvrir un tour maintenant\n"
            "• `!debat fermer [code]` — fermer le tour et publier la synthèse\n"
            "• `!debat prolonger <durée> [code]` — prolonger (ex. `2h`, `1d`)\n"
            "• `!debat exporter <md|csv|json|html> [code]` — exporter la synthèse\n"
            "• `!debat arguments [code] [page]` — les arguments du tour et leurs numéros\n"
            "• `!debat masquer <n>` / `!debat restaurer <n>` — masquer ou rétablir un argument\n"
            "• `!debat approuver <n>` — soumettre au vote un argument en attente d'approbation"
        ),
        "help_round": "**Tour {code}** — {question}\n{stances}",
        "help_no_round": "Pas de tour ouvert ici pour le moment.",
        "unknown_command": "Commande inconnue : {command}. Tapez `!aide` pour la liste.",
        "console_usage": "Format : @<utilisateur> <texte> | @<utilisateur> dm <texte>",
        "unknown_stance": (
            "Position inconnue ou ambiguë : « {stance} ». Donnez son numéro, son identifiant ou"
            " son libellé complet :\n{choices}"
        ),
        "missing_stance": "Indiquez une position (numéro, identifiant ou libellé) :\n{choices}",
        "argument_too_long": (
            "Votre argument fait {length} caractères ; le maximum est {max}. Rien n'a été"
            " enregistré."
        ),
        "argument_empty": "L'argument est vide une fois nettoyé. Rien n'a été enregistré.",
        "too_many_arguments": (
            "Vous avez déjà donné {max} arguments dans ce tour. Retirez votre position pour"
            " recommencer."
        ),
        "no_open_round": "Aucun tour de débat n'est ouvert en ce moment.",
        "ambiguous_round": (
            "Plusieurs tours sont ouverts : précisez le code du tour qui vous intéresse.\n{codes}"
        ),
        "unknown_round": "Aucun tour ouvert ne porte le code {code}.",
        "round_closed": "Ce tour est fermé : les réponses ne sont plus acceptées.",
        "not_leader": (
            "Ce processus du bot est en réserve : ouvrir et fermer les tours revient au "
            "processus principal. Réessayez dans quelques secondes ; si cela dure, voyez "
            "l'équipe technique."
        ),
        "rate_limited": "Trop de demandes en peu de temps. Réessayez dans une minute.",
        "db_unavailable": (
            "Le service est momentanément indisponible : rien n'a été enregistré. Réessayez"
            " dans une minute."
        ),
        "db_unconfirmed": (
            "Le service est momentanément indisponible : votre demande n'a pas pu être"
            " confirmée. Elle sera peut-être enregistrée dans un instant : vérifiez avec"
            " {check} dans une minute avant de la renvoyer."
        ),
        "db_unavailable_read": (
            "Le service est momentanément indisponible. Réessayez dans une minute."
        ),
        "not_moderator": "Cette commande est réservée aux modérateurs.",
        "position_recorded": "Position enregistrée : **{stance}** (tour {code}).",
        "argument_recorded": "Argument n° {number} enregistré, anonymement.",
        "withdrawn": "Votre position, vos arguments et vos votes du tour {code} sont retirés.",
        "nothing_to_withdraw": "Vous n'avez rien donné dans le tour {code}.",
        "answer_privately": (
            "Astuce : ce message était visible dans le salon. Répondez en message privé au bot"
            " pour que votre position reste anonyme."
        ),
        "my_position": "Tour {code} — votre position : **{stance}**",
        "my_position_none": "Tour {code} — vous n'avez pas encore donné de position.",
        "my_arguments": "Vos arguments :",
        "voting_disabled": "Le vote sur les arguments n'est pas activé pour ce débat.",
        "vote_prompt": (
            "Argument n° {number} ({remaining} restant(s)) :\n> {text}\n"
            "Répondez `1` (d'accord), `2` (pas d'accord) ou `3` (passer) ; `oui`, `non` et"
            " `passer` comptent aussi."
        ),
        "vote_prompt_carried": (
            "Argument n° {number}, repris du tour {code} : il n'est celui d'aucun membre"
            " ({remaining} restant(s)) :\n> {text}\n"
            "Répondez `1` (d'accord), `2` (pas d'accord) ou `3` (passer) ; `oui`, `non` et"
            " `passer` comptent aussi."
        ),
        "vote_unreadable": ("Je n'ai pas compris : répondez 1, 2 ou 3. Rien n'a été enregistré."),
        "vote_none_left": "Vous avez voté sur tous les arguments disponibles. Merci !",
        "vote_recorded": "Vote enregistré.",
        "vote_no_pending": "Aucun argument en attente de vote. Tapez `!voter` pour commencer.",
        "vote_asked_again": (
            "Je ne sais plus à quelle question répond cette réaction (le bot a redémarré) : "
            "rien n'a été enregistré. La voici de nouveau."
        ),
        "vote_own": "Vous ne pouvez pas voter sur votre propre argument.",
        "unknown_debate": "Débat inconnu : {debate}. Débats : {choices}.",
        "round_opened": "Tour {code} ouvert : {question}",
        "round_closing": "Tour {code} fermé ; la synthèse est publiée.",
        "round_extended": "Tour {code} prolongé jusqu'au {closes}.",
        "invalid_duration": "Durée invalide : {error}",
        "export_ready": "Export du tour {code} ({format}) :",
        "export_not_ready": "Le tour {code} n'a pas encore de synthèse : il faut le fermer.",
        "unknown_format": "Format inconnu : {format}. Formats : {choices}.",
        "no_round_to_export": "Aucun tour fermé à exporter.",
        "argument_hidden": "Argument n° {number} masqué.",
        "argument_restored": "Argument n° {number} rétabli.",
        "unknown_argument": "Aucun argument n° {number} dans le tour {code}.",
        "moderation_list_title": "Arguments du tour {code} (page {page}/{pages}) :",
        "moderation_list_hidden": "(masqué)",
        "moderation_list_carried": "(repris du tour {code})",
        "moderation_list_more": "Page suivante : `!debat arguments {code} {next}`",
        "moderation_list_empty": "Le tour {code} n'a encore aucun argument.",
        "missing_argument_number": "Indiquez le numéro de l'argument : `!debat {action} <n>`.",
        "moderation_list_pending": "(en attente d'approbation)",
        "moderation_batch_title": (
            "**Nouveaux arguments du tour {code}** (dans un ordre aléatoire)"
        ),
        "moderation_batch_pending": "(en attente d'approbation : `{debat} approuver {number}`)",
        "moderation_batch_hide": "Pour masquer un argument : `{debat} masquer <n> {code}`.",
        "argument_pending": (
            "Votre argument n° {number} attend la relecture d'un modérateur ; il sera soumis au"
            " vote une fois approuvé."
        ),
        "my_argument_pending": "(en attente de relecture)",
        "argument_approved": "Argument n° {number} approuvé : il est soumis au vote.",
        "approve_not_pending": (
            "L'argument n° {number} n'attend pas d'approbation (il est déjà approuvé, ou ce"
            " débat n'est pas en pré-modération)."
        ),
        "approve_hidden": (
            "L'argument n° {number} est masqué, donc rejeté : rétablissez-le d'abord"
            " (`!debat restaurer {number}`) pour l'approuver."
        ),
        # The Discord adapter's own words: buttons, modals, embed fields, answers.
        "discord_button_argue": "Argumenter",
        "discord_button_vote": "Voter sur les arguments",
        "discord_button_mine": "Ma position",
        "discord_button_withdraw": "Retirer ma participation",
        "discord_button_withdraw_confirm": "Oui, tout retirer",
        "discord_button_agree": "D'accord",
        "discord_button_disagree": "Pas d'accord",
        "discord_button_pass": "Passer",
        "discord_button_hide": "Masquer",
        "discord_button_restore": "Rétablir",
        "discord_button_back": "Retour à la liste",
        "discord_button_previous": "Précédents",
        "discord_button_next": "Suivants",
        "discord_modal_title": "Argument — tour {code}",
        "discord_modal_label": "Votre argument (publié sans votre nom)",
        "discord_modal_placeholder": "Un argument à la fois, {max} caractères au plus.",
        "discord_field_closes": "Clôture",
        "discord_field_participation": "Participations",
        "discord_field_code": "Code du tour",
        "discord_announcement_footer": (
            "Vos réponses ne sont visibles que par vous et sont enregistrées anonymement."
        ),
        "discord_announcement_closed": "Tour fermé : la synthèse est publiée ci-dessous.",
        "discord_reminder": "⏰ Rappel : le tour **{code}** ferme {relative}.\n« {question} »",
        "discord_position_hint": (
            "Vous pouvez ajouter un argument avec « Argumenter » ou changer de position à"
            " tout moment."
        ),
        "discord_vote_prompt": "**Argument n° {number}** ({remaining} restant(s)) :",
        "discord_vote_prompt_carried": (
            "**Argument n° {number}**, repris du tour {code} : il n'est celui d'aucun membre"
            " ({remaining} restant(s)) :"
        ),
        "discord_vote_recorded": "Vote enregistré.",
        "discord_withdraw_confirm": (
            "Retirer votre position, vos arguments et vos votes du tour {code} ? C'est définitif."
        ),
        "discord_rounds_none": "Aucun tour de débat n'est ouvert en ce moment.",
        "discord_rounds_header": "**Tours ouverts**",
        "discord_rounds_line": "• **{code}** — {question} — ferme {relative} {channels}",
        "discord_moderation_header": "Arguments du tour {code} ({count}) — page {page}/{pages}",
        "discord_moderation_hint": "Choisissez un argument pour le masquer ou le rétablir.",
        "discord_moderation_none": "Aucun argument dans le tour {code} pour l'instant.",
        "discord_moderation_pick": "Choisir un argument",
        "discord_moderation_visible": "visible",
        "discord_moderation_hidden": "masqué",
        "discord_moderation_pending": "en attente d'approbation",
        "discord_moderation_carried": "repris du tour {code}",
        "discord_moderation_argument": "**Argument n° {number}** ({status}) :",
        "discord_summary_more": (
            "… La synthèse complète est dans l'export : `/debat exporter` (modération)."
        ),
        "discord_error": "Une erreur inattendue est survenue. Réessayez dans un instant.",
        "discord_check_mine": "`/debat ma-position` (ou le bouton « Ma position »)",
        "discord_help": (
            "**Participer au débat** (vos réponses sont anonymes et visibles par vous seul)\n"
            "• Les boutons sous l'annonce du tour : une position, « Argumenter »,"
            " « Voter sur les arguments », « Ma position »\n"
            "• `/debat position` — donner ou changer votre position, avec un argument"
            " facultatif\n"
            "• `/debat ma-position` — voir votre position et vos arguments\n"
            "• `/debat retirer` — retirer votre position, vos arguments et vos votes\n"
            "• `/debat voter` — voter sur les arguments des autres\n"
            "• `/debat rounds` — les tours ouverts\n"
            "Si plusieurs tours sont ouverts, précisez le tour avec l'option `tour`."
        ),
        "discord_help_moderator": (
            "**Modération**\n"
            "• `/debat ouvrir` — ouvrir un tour maintenant\n"
            "• `/debat fermer` — fermer le tour et publier la synthèse\n"
            "• `/debat prolonger` — prolonger (ex. `2h`, `1d`)\n"
            "• `/debat exporter` — exporter la synthèse (md, csv, json, html)\n"
            "• `/debat moderation` — masquer ou rétablir un argument\n"
            "• `/debat approuver` — soumettre au vote un argument en attente d'approbation"
        ),
        # Names and descriptions of the Discord application commands.
        "command_debat": "debat",
        "command_debat_help": "Débats citoyens : donner sa position, voter, consulter les tours",
        "command_position": "position",
        "command_position_help": (
            "Donner ou changer votre position (anonyme), avec un argument facultatif"
        ),
        "command_mine": "ma-position",
        "command_mine_help": "Voir votre position et vos arguments",
        "command_withdraw": "retirer",
        "command_withdraw_help": "Retirer votre position, vos arguments et vos votes",
        "command_vote": "voter",
        "command_vote_help": "Voter sur les arguments des autres participants",
        "command_rounds": "rounds",
        "command_rounds_help": "Les tours de débat ouverts",
        "command_help": "aide",
        "command_help_help": "Comment participer",
        "command_open": "ouvrir",
        "command_open_help": "Ouvrir un tour maintenant (modération)",
        "command_close": "fermer",
        "command_close_help": "Fermer le tour et publier la synthèse (modération)",
        "command_extend": "prolonger",
        "command_extend_help": "Prolonger le tour (modération)",
        "command_export": "exporter",
        "command_export_help": "Exporter la synthèse d'un tour fermé (modération)",
        "command_moderation": "moderation",
        "command_moderation_help": "Masquer ou rétablir un argument (modération)",
        "command_approve": "approuver",
        "command_approve_help": "Soumettre au vote un argument en attente (modération)",
        "option_number": "numero",
        "option_number_help": "Le numéro de l'argument",
        "option_stance": "position",
        "option_stance_help": "Votre position",
        "option_argument": "argument",
        "option_argument_help": "Un argument facultatif, publié sans votre nom",
        "option_round": "tour",
        "option_round_help": "Code du tour (seulement si plusieurs tours sont ouverts)",
        "option_debate": "debat-id",
        "option_debate_help": "Le débat dont ouvrir un tour",
        "option_duration": "duree",
        "option_duration_help": "Durée à ajouter, par exemple 2h ou 1d",
        "option_format": "format",
        "option_format_help": "Format du fichier",
        "option_export_round": "tour",
        "option_export_round_help": "Code du tour (par défaut le dernier tour fermé de ce salon)",
        "choice_md": "Markdown (.md)",
        "choice_csv": "CSV (tableur)",
        "choice_json": "JSON (données)",
        "choice_html": "HTML (page web)",
        "announcement_title": "Débat « {title} » — tour {code}",
        "announcement_body": (
            "**{question}**\n\n> {context}\n{source}\n\n"
            "Ouvert jusqu'au {closes}. Positions possibles :\n{stances}\n"
            "Répondez en privé au bot : `!position <numéro> [argument]`, par exemple"
            " `!position 1 …` (code du tour : {code}). Tapez `!aide` pour l'aide."
        ),
        "reminder": "Rappel : le tour {code} (« {question} ») ferme le {closes}.",
        "progress": "Tour {code} : {count} participation(s) jusqu'ici.",
        "summary_title": "Synthèse du tour {code} — « {question} »",
        "summary_participation": "Participants : {participants}.",
        "summary_too_few": (
            "Trop peu de participants ({participants}, minimum {min}) pour publier une"
            " répartition sans risquer de les identifier."
        ),
        "summary_tally_line": "• {stance} : {count} ({share} %)",
        "summary_arguments": "Arguments ({count}) :",
        "summary_argument_line": "• n° {number} [{stance}] {text}",
        "summary_votes": "  d'accord {agree} · pas d'accord {disagree} · passe {pass_}",
        "summary_votes_hidden": "  (moins de {min} votes : détail non publié)",
        "summary_no_arguments": "Aucun argument n'a été donné.",
        "date_format": "%d/%m/%Y à %H:%M ({tz})",
        "source_prefix": "Source",
        "demo_intro": (
            "Démonstration : {participants} participants simulés, tour de {seconds} sur le"
            " débat « {title} »."
        ),
        "demo_files": (
            "Fichiers de la démonstration (base, exports) : {path} — les vrais tours n'ont pas"
            " été touchés."
        ),
        "shutdown": "Arrêt du bot.",
        # --- Matrix: a member's message that the bot cannot decrypt (answered in plain text) ---
        "undecryptable": (
            "Je n'ai pas pu lire votre dernier message : il est chiffré et {reason}. Ce message-ci"
            " n'est pas chiffré, pour que vous puissiez le lire ; il ne contient rien de vous."
            " Que faire : mettez votre application Matrix à jour, vérifiez qu'elle ne refuse pas"
            " de partager ses clés avec le bot (réglage « appareils non vérifiés » ou « mode"
            " strict »), puis renvoyez votre message. Si cela continue, quittez cette"
            " conversation et ouvrez-en une nouvelle avec le bot. (Ce message est envoyé au plus"
            " une fois par heure.)"
        ),
        "undecryptable_no_key": "sa clé ne m'est pas parvenue",
        "undecryptable_withheld": "votre application a refusé de m'en donner la clé ({code})",
        "matrix_vote_reactions": "Ou réagissez à ce message : 👍 (1), 👎 (2) ou ⏭ (3).",
        "matrix_announcement_join": (
            "Pour participer, envoyez n'importe quel message en privé à {bot} (ou tapez"
            " `!debat participer` ici)."
        ),
        "matrix_first_dm": "Bonjour ! Voici le tour ouvert où vous êtes ; répondez par numéro.",
        # --- end of the Matrix block ---
    },
    "en": {
        "help": (
            "**Taking part** (your answers are anonymous)\n"
            "• `!position <number> [argument]` — give or change your stance (its number, id or"
            " label, below), with an optional argument\n"
            "• `!position <code> <stance> [argument]` — when several rounds are open\n"
            "• `!mine` — see your stance and arguments\n"
            "• `!withdraw` — withdraw your stance, arguments and votes\n"
            "• `!vote` — vote on other members' arguments: answer `1` (agree), "
            "`2` (disagree) or `3` (pass)\n"
            "• `!help` — this help"
        ),
        "help_moderator": (
            "**Moderation**\n"
            "• `!debate open <debate>` — open a round now\n"
            "• `!debate close [code]` — close the round and post the summary\n"
            "• `!debate extend <duration> [code]` — extend (e.g. `2h`, `1d`)\n"
            "• `!debate export <md|csv|json|html> [code]` — export the summary\n"
            "• `!debate arguments [code] [page]` — the round's arguments and their numbers\n"
            "• `!debate hide <n>` / `!debate restore <n>` — hide or restore an argument\n"
            "• `!debate approve <n>` — put an argument awaiting approval to the vote"
        ),
        "help_round": "**Round {code}** — {question}\n{stances}",
        "help_no_round": "No round is open here right now.",
        "unknown_command": "Unknown command: {command}. Type `!help` for the list.",
        "console_usage": "Format: @<user> <text> | @<user> dm <text>",
        "unknown_stance": (
            "Unknown or ambiguous stance: “{stance}”. Give its number, its id or its whole"
            " label:\n{choices}"
        ),
        "missing_stance": "Give a stance (number, id or label):\n{choices}",
        "argument_too_long": (
            "Your argument is {length} characters long; the maximum is {max}. Nothing was"
            " recorded."
        ),
        "argument_empty": "The argument is empty once cleaned. Nothing was recorded.",
        "too_many_arguments": (
            "You have already given {max} arguments in this round. Withdraw your position to"
            " start again."
        ),
        "no_open_round": "No debate round is open right now.",
        "ambiguous_round": "Several rounds are open: give the code of the round.\n{codes}",
        "unknown_round": "No open round has the code {code}.",
        "round_closed": "This round is closed: answers are no longer accepted.",
        "not_leader": (
            "This bot process is on standby: opening and closing rounds is the main "
            "process's job. Try again in a few seconds; if it lasts, ask the technical team."
        ),
        "rate_limited": "Too many requests in a short time. Try again in a minute.",
        "db_unavailable": (
            "The service is temporarily unavailable: nothing was recorded. Please try again"
            " in a minute."
        ),
        "db_unconfirmed": (
            "The service is temporarily unavailable: your request could not be confirmed. It"
            " may still be recorded in a moment: check with {check} in a minute before sending"
            " it again."
        ),
        "db_unavailable_read": (
            "The service is temporarily unavailable. Please try again in a minute."
        ),
        "not_moderator": "This command is for moderators only.",
        "position_recorded": "Stance recorded: **{stance}** (round {code}).",
        "argument_recorded": "Argument #{number} recorded, anonymously.",
        "withdrawn": "Your stance, arguments and votes in round {code} are withdrawn.",
        "nothing_to_withdraw": "You have given nothing in round {code}.",
        "answer_privately": (
            "Tip: that message was visible in the channel. Answer the bot in a direct message"
            " to keep your stance anonymous."
        ),
        "my_position": "Round {code} — your stance: **{stance}**",
        "my_position_none": "Round {code} — you have not given a stance yet.",
        "my_arguments": "Your arguments:",
        "voting_disabled": "Voting on arguments is not enabled for this debate.",
        "vote_prompt": (
            "Argument #{number} ({remaining} left):\n> {text}\n"
            "Answer `1` (agree), `2` (disagree) or `3` (pass); `yes`, `no` and `skip` work"
            " too."
        ),
        "vote_prompt_carried": (
            "Argument #{number}, carried over from round {code}: it is no member's"
            " ({remaining} left):\n> {text}\n"
            "Answer `1` (agree), `2` (disagree) or `3` (pass); `yes`, `no` and `skip` work"
            " too."
        ),
        "vote_unreadable": "I did not understand: answer 1, 2 or 3. Nothing was recorded.",
        "vote_none_left": "You have voted on every available argument. Thank you!",
        "vote_recorded": "Vote recorded.",
        "vote_no_pending": "No argument is waiting for your vote. Type `!vote` to start.",
        "vote_asked_again": (
            "I no longer know which question this reaction answers (the bot restarted): "
            "nothing was recorded. Here it is again."
        ),
        "vote_own": "You cannot vote on your own argument.",
        "unknown_debate": "Unknown debate: {debate}. Debates: {choices}.",
        "round_opened": "Round {code} opened: {question}",
        "round_closing": "Round {code} closed; the summary is posted.",
        "round_extended": "Round {code} extended until {closes}.",
        "invalid_duration": "Invalid duration: {error}",
        "export_ready": "Export of round {code} ({format}):",
        "export_not_ready": "Round {code} has no summary yet: close it first.",
        "unknown_format": "Unknown format: {format}. Formats: {choices}.",
        "no_round_to_export": "No closed round to export.",
        "argument_hidden": "Argument #{number} hidden.",
        "argument_restored": "Argument #{number} restored.",
        "unknown_argument": "No argument #{number} in round {code}.",
        "moderation_list_title": "Arguments of round {code} (page {page}/{pages}):",
        "moderation_list_hidden": "(hidden)",
        "moderation_list_carried": "(carried over from round {code})",
        "moderation_list_more": "Next page: `!debate arguments {code} {next}`",
        "moderation_list_empty": "Round {code} has no argument yet.",
        "missing_argument_number": "Give the argument number: `!debat {action} <n>`.",
        "moderation_list_pending": "(awaiting approval)",
        "moderation_batch_title": "**New arguments in round {code}** (in random order)",
        "moderation_batch_pending": "(awaits approval: `{debat} approve {number}`)",
        "moderation_batch_hide": "To hide an argument: `{debat} hide <n> {code}`.",
        "argument_pending": (
            "Your argument #{number} awaits a moderator's review; it will be put to the vote"
            " once approved."
        ),
        "my_argument_pending": "(awaiting review)",
        "argument_approved": "Argument #{number} approved: it is put to the vote.",
        "approve_not_pending": (
            "Argument #{number} is not awaiting approval (it is approved already, or this"
            " debate is not pre-moderated)."
        ),
        "approve_hidden": (
            "Argument #{number} is hidden, so rejected: restore it first"
            " (`!debate restore {number}`) to approve it."
        ),
        # The Discord adapter's own words: buttons, modals, embed fields, answers.
        "discord_button_argue": "Add an argument",
        "discord_button_vote": "Vote on arguments",
        "discord_button_mine": "My position",
        "discord_button_withdraw": "Withdraw my participation",
        "discord_button_withdraw_confirm": "Yes, withdraw everything",
        "discord_button_agree": "Agree",
        "discord_button_disagree": "Disagree",
        "discord_button_pass": "Pass",
        "discord_button_hide": "Hide",
        "discord_button_restore": "Restore",
        "discord_button_back": "Back to the list",
        "discord_button_previous": "Previous",
        "discord_button_next": "Next",
        "discord_modal_title": "Argument — round {code}",
        "discord_modal_label": "Your argument (published without your name)",
        "discord_modal_placeholder": "One argument at a time, at most {max} characters.",
        "discord_field_closes": "Closes",
        "discord_field_participation": "Participants",
        "discord_field_code": "Round code",
        "discord_announcement_footer": "Only you see your answers; they are recorded anonymously.",
        "discord_announcement_closed": "Round closed: the summary is posted below.",
        "discord_reminder": "⏰ Reminder: round **{code}** closes {relative}.\n“{question}”",
        "discord_position_hint": (
            "You can add an argument with “Add an argument” or change your stance at any time."
        ),
        "discord_vote_prompt": "**Argument #{number}** ({remaining} left):",
        "discord_vote_prompt_carried": (
            "**Argument #{number}**, carried over from round {code}: it is no member's"
            " ({remaining} left):"
        ),
        "discord_vote_recorded": "Vote recorded.",
        "discord_withdraw_confirm": (
            "Withdraw your stance, arguments and votes in round {code}? This cannot be undone."
        ),
        "discord_rounds_none": "No debate round is open right now.",
        "discord_rounds_header": "**Open rounds**",
        "discord_rounds_line": "• **{code}** — {question} — closes {relative} {channels}",
        "discord_moderation_header": "Arguments of round {code} ({count}) — page {page}/{pages}",
        "discord_moderation_hint": "Pick an argument to hide or restore it.",
        "discord_moderation_none": "No argument in round {code} yet.",
        "discord_moderation_pick": "Pick an argument",
        "discord_moderation_visible": "visible",
        "discord_moderation_hidden": "hidden",
        "discord_moderation_pending": "awaiting approval",
        "discord_moderation_carried": "carried over from round {code}",
        "discord_moderation_argument": "**Argument #{number}** ({status}):",
        "discord_summary_more": (
            "… The full summary is in the export: `/debat exporter` (moderators)."
        ),
        "discord_error": "Something went wrong. Please try again in a moment.",
        "discord_check_mine": "`/debat ma-position` (or the “My position” button)",
        "discord_help": (
            "**Taking part** (your answers are anonymous and only you see them)\n"
            "• The buttons under the round announcement: a stance, “Add an argument”,"
            " “Vote on arguments”, “My position”\n"
            "• `/debate position` — give or change your stance, with an optional argument\n"
            "• `/debate my-position` — see your stance and arguments\n"
            "• `/debate withdraw` — withdraw your stance, arguments and votes\n"
            "• `/debate vote` — vote on other members' arguments\n"
            "• `/debate rounds` — the open rounds\n"
            "When several rounds are open, name the round with the `round` option."
        ),
        "discord_help_moderator": (
            "**Moderation**\n"
            "• `/debate open` — open a round now\n"
            "• `/debate close` — close the round and post the summary\n"
            "• `/debate extend` — extend (e.g. `2h`, `1d`)\n"
            "• `/debate export` — export the summary (md, csv, json, html)\n"
            "• `/debate moderation` — hide or restore an argument\n"
            "• `/debate approve` — put an argument awaiting approval to the vote"
        ),
        # Names and descriptions of the Discord application commands.
        "command_debat": "debate",
        "command_debat_help": "Civic debates: give your stance, vote, see the rounds",
        "command_position": "position",
        "command_position_help": (
            "Give or change your stance (anonymous), with an optional argument"
        ),
        "command_mine": "my-position",
        "command_mine_help": "See your stance and arguments",
        "command_withdraw": "withdraw",
        "command_withdraw_help": "Withdraw your stance, arguments and votes",
        "command_vote": "vote",
        "command_vote_help": "Vote on other participants' arguments",
        "command_rounds": "rounds",
        "command_rounds_help": "The open debate rounds",
        "command_help": "help",
        "command_help_help": "How to take part",
        "command_open": "open",
        "command_open_help": "Open a round now (moderators)",
        "command_close": "close",
        "command_close_help": "Close the round and post the summary (moderators)",
        "command_extend": "extend",
        "command_extend_help": "Extend the round (moderators)",
        "command_export": "export",
        "command_export_help": "Export the summary of a closed round (moderators)",
        "command_moderation": "moderation",
        "command_moderation_help": "Hide or restore an argument (moderators)",
        "command_approve": "approve",
        "command_approve_help": "Put an argument awaiting approval to the vote (moderators)",
        "option_number": "number",
        "option_number_help": "The argument's number",
        "option_stance": "position",
        "option_stance_help": "stance",
        "option_argument": "argument",
        "option_argument_help": "An optional argument, published without your name",
        "option_round": "round",
        "option_round_help": "Round code (only when several rounds are open)",
        "option_debate": "debate",
        "option_debate_help": "The debate to open a round of",
        "option_duration": "duration",
        "option_duration_help": "Time to add, e.g. 2h or 1d",
        "option_format": "format",
        "option_format_help": "File format",
        "option_export_round": "round",
        "option_export_round_help": (
            "Round code (default: the latest closed round of this channel)"
        ),
        "choice_md": "Markdown (.md)",
        "choice_csv": "CSV (spreadsheet)",
        "choice_json": "JSON (data)",
        "choice_html": "HTML (web page)",
        "announcement_title": "Debate “{title}” — round {code}",
        "announcement_body": (
            "**{question}**\n\n> {context}\n{source}\n\n"
            "Open until {closes}. Stances:\n{stances}\n"
            "Answer the bot privately: `!position <number> [argument]`, for example"
            " `!position 1 …` (round code: {code}). Type `!help` for help."
        ),
        "reminder": "Reminder: round {code} (“{question}”) closes on {closes}.",
        "progress": "Round {code}: {count} participant(s) so far.",
        "summary_title": "Summary of round {code} — “{question}”",
        "summary_participation": "Participants: {participants}.",
        "summary_too_few": (
            "Too few participants ({participants}, minimum {min}) to publish a breakdown"
            " without risking identifying them."
        ),
        "summary_tally_line": "• {stance}: {count} ({share}%)",
        "summary_arguments": "Arguments ({count}):",
        "summary_argument_line": "• #{number} [{stance}] {text}",
        "summary_votes": "  agree {agree} · disagree {disagree} · pass {pass_}",
        "summary_votes_hidden": "  (fewer than {min} votes: breakdown not published)",
        "summary_no_arguments": "No argument was given.",
        "date_format": "%Y-%m-%d %H:%M ({tz})",
        "source_prefix": "Source",
        "demo_intro": (
            "Demo: {participants} simulated participants, a {seconds} round of the"
            " debate “{title}”."
        ),
        "demo_files": "Demo files (database, exports): {path} — the real rounds were not touched.",
        "shutdown": "Bot shutting down.",
        # --- Matrix: a member's message that the bot cannot decrypt (answered in plain text) ---
        "undecryptable": (
            "I could not read your last message: it is encrypted and {reason}. This message is"
            " not encrypted, so that you can read it; it contains nothing about you. What to do:"
            " update your Matrix app, check that it does not refuse to share its keys with the"
            " bot (an “unverified devices” or “strict mode” setting),"
            " then send your message again. If it goes on, leave this conversation and open a"
            " new one with the bot. (This message is sent at most once an hour.)"
        ),
        "undecryptable_no_key": "its key never reached me",
        "undecryptable_withheld": "your app declined to give me its key ({code})",
        "matrix_vote_reactions": "Or react to this message: 👍 (1), 👎 (2) or ⏭ (3).",
        "matrix_announcement_join": (
            "To take part, send any message in private to {bot} (or type `!debat participer`"
            " here)."
        ),
        "matrix_first_dm": "Hello! Here is the round open where you are; answer by number.",
        # --- end of the Matrix block ---
    },
}


# Headings and words of the summary renderings (chat text and exports).
SUMMARY_LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "num": "n° {n}",
        "round": "Tour {code}",
        "sep": " : ",
        "participation": "Participation",
        "top": "Arguments les plus soutenus",
        "top_hint": (
            "arguments avec lesquels une majorité des votants a été d'accord (au moins {min} "
            "votants), classés par position de leur auteur"
        ),
        "top_no_stance": "Auteur sans position",
        "participation_line": (
            "Participants : {participants}. Positions prises : {positions} ; votants : {voters}."
        ),
        "top_any": "Tous avis confondus",
        "support_line": "{agree} des {votes} votants d'accord, soit {share} %",
        "consensus": "Consensus entre les groupes",
        "consensus_agree": "Largement approuvé",
        "consensus_disagree": "Largement rejeté",
        "divisive": "Ce qui divise",
        "groups": "Groupes d'opinion",
        "groups_intro": (
            "Un groupe d'opinion réunit des membres qui ont voté de la même façon sur les "
            "arguments. {clustered} participants sont répartis en {count} groupes."
        ),
        "groups_too_few": (
            "Pas de comparaison entre groupes d'opinion dans ce tour : il faut au moins deux "
            "groupes d'au moins {min} membres qui ont voté de la même façon, et les votes n'en "
            "dessinent pas autant."
        ),
        "group_agreed": "Les membres de ce groupe ont surtout été d'accord avec",
        "group_disagreed": "Les membres de ce groupe ont surtout été en désaccord avec",
        "group_share": "{count} des {voters} membres du groupe {label} qui ont voté dessus",
        "group_share_only": "{share} % des membres du groupe {label} qui ont voté dessus",
        "group": "Groupe {label}",
        "group_size": "{size} personnes",
        "group_hidden": "Groupe {label} : moins de {min} personnes, non détaillé.",
        "agrees": "d'accord",
        "disagrees": "pas d'accord",
        "group_rep": "{direction} avec {num} ({share} % du groupe)",
        "group_rep_noshare": "{direction} avec {num}",
        "sets_apart": "Ce qui le distingue",
        "themes": "Thèmes",
        "terms": "Termes récurrents",
        "theme_terms": "Termes",
        "theme_args": "{count} arguments",
        "all_arguments": "Tous les arguments",
        "chart": "Répartition des positions et carte des opinions",
        "chart_tally_caption": "Répartition des positions",
        "chart_map_caption": "Carte des opinions",
        "chart_title": "Tour {code} · {date} — « {question} »",
        "chart_map_key": (
            "Chaque point est une personne ; des points proches ont voté de la même façon."
        ),
        "chart_count_axis": "Personnes",
        "alt_head": "Graphique du tour {code} ({date}{question})",
        "alt_question": ", « {question} »",
        "alt_tally": "positions : {rows}",
        "alt_map": (
            "carte des opinions de {people} personnes (groupe et effectif : {groups}) ; chaque "
            "point est une personne, des points proches ont voté de la même façon"
        ),
        "alt_group": "{label} {size}",
        "more": "… et {n} autres (voir l'export).",
        "col_num": "N°",
        "col_text": "Argument",
        "col_stance": "Position",
        "col_votes": "Votes",
        "col_agree": "D'accord",
        "col_disagree": "Pas d'accord",
        "col_pass": "Passe",
        "col_support": "Soutien",
        "col_group": "Groupe",
        "col_size": "Taille",
        "col_count": "Nombre",
        "col_share": "Part",
        "withheld": "Les chiffres tirés de moins de {min} personnes ne sont pas publiés (—).",
        "hidden_arguments": "{n} argument(s) masqué(s) par la modération.",
        "reproducibility": "Reproductibilité",
        "repro_line": (
            "Schéma {schema}, analyse {analysis}, thèmes {themes}, graine {seed} : "
            "{participants} participants, {positions} positions, {arguments} arguments, "
            "{votes} votes, {clustered} participants classés."
        ),
        "no_analysis": "aucune",
        "period": "Du {opens} au {closes} (UTC)",
        "vote_sign": "Votes : d'accord = +1, pas d'accord = −1, passe = 0.",
        "groups_others": (
            "{count} autres participants classés sont dans des groupes non détaillés : chacun "
            "compte moins de {min} personnes, ou sa taille permettrait d'en déduire celle d'un "
            "plus petit."
        ),
        "groups_none": (
            "Les {count} participants classés sont dans des groupes non détaillés : chacun "
            "compte moins de {min} personnes, ou sa taille permettrait d'en déduire celle d'un "
            "plus petit."
        ),
        "common_ground": "Terrain d'entente",
        "common_ground_hint": (
            "arguments approuvés des deux côtés de l'axe principal des opinions, selon un "
            "modèle inspiré des Community Notes : score de pont d'au moins {intercept} et "
            "facteur inférieur à {factor} en valeur absolue"
        ),
        "common_ground_line": (
            "score de pont {intercept}, facteur {factor}, {votes} votes hors « passe »"
        ),
        "carried": "Repris du tour précédent",
        "carried_hint": (
            "arguments que la synthèse du tour précédent a retenus comme terrain d'entente ou "
            "comme ce qui divise, remis au vote dans ce tour : la part des votants d'accord "
            "alors et maintenant (publiée à partir de {min} votants)"
        ),
        "carried_mark": "{num} (repris du tour {code})",
        "carried_common_ground": "retenu comme terrain d'entente",
        "carried_divisive": "retenu comme ce qui divise",
        "carried_then": "{share} % des {votes} votants d'accord alors",
        "carried_then_withheld": "trop peu de votes alors : {votes} votants",
        "carried_now": "{share} % des {votes} votants d'accord maintenant",
        "carried_now_withheld": "trop peu de votes pour l'instant : {votes} votants",
        "carried_line": "{listed} ; {then} ; {now}",
        # ---- summary: numbers, dates, quotes, chart and export formats (bot.summary) ----
        "decimal_sep": ",",
        "percent": "{value} %",
        "no_figure": "—",
        "date_format": "%Y-%m-%d %H:%M",
        "quote": "« {text}{cut} »",
        "quote_cut": " […]",
        "chart_tally": "Positions",
        "chart_map": "Carte des opinions",
        "chart_bar": "{count} ({share} %)",
        "chart_group": "{label} · {size} personnes",
        # ---- end of the summary block ----
    },
    "en": {
        "num": "#{n}",
        "round": "Round {code}",
        "sep": ": ",
        "participation": "Participation",
        "top": "Most supported arguments",
        "top_hint": (
            "arguments a majority of voters agreed with (at least {min} voters), by their "
            "author's stance"
        ),
        "top_no_stance": "Author without a stance",
        "participation_line": (
            "Participants: {participants}. Took a position: {positions}; voted: {voters}."
        ),
        "top_any": "All stances",
        "support_line": "{agree} of {votes} voters agreed, {share}%",
        "consensus": "Consensus across groups",
        "consensus_agree": "Broadly agreed",
        "consensus_disagree": "Broadly rejected",
        "divisive": "What divides",
        "groups": "Opinion groups",
        "groups_intro": (
            "An opinion group gathers members who voted alike on the arguments. "
            "{clustered} participants fall into {count} groups."
        ),
        "groups_too_few": (
            "No comparison between opinion groups in this round: it takes at least two groups "
            "of at least {min} members who voted alike, and the votes do not show that many."
        ),
        "group_agreed": "People in this group mostly agreed with",
        "group_disagreed": "People in this group mostly disagreed with",
        "group_share": "{count} of the {voters} members of group {label} who voted on it",
        "group_share_only": "{share}% of the members of group {label} who voted on it",
        "group": "Group {label}",
        "group_size": "{size} people",
        "group_hidden": "Group {label}: fewer than {min} people, not detailed.",
        "agrees": "agrees",
        "disagrees": "disagrees",
        "group_rep": "{direction} with {num} ({share}% of the group)",
        "group_rep_noshare": "{direction} with {num}",
        "sets_apart": "What sets it apart",
        "themes": "Themes",
        "terms": "Recurring terms",
        "theme_terms": "Terms",
        "theme_args": "{count} arguments",
        "all_arguments": "All arguments",
        "chart": "Stance distribution and opinion map",
        "chart_tally_caption": "Stance distribution",
        "chart_map_caption": "Opinion map",
        "chart_title": "Round {code} · {date} — “{question}”",
        "chart_map_key": "Each dot is a person; dots close together voted alike.",
        "chart_count_axis": "People",
        "alt_head": "Chart of round {code} ({date}{question})",
        "alt_question": ", “{question}”",
        "alt_tally": "stances: {rows}",
        "alt_map": (
            "opinion map of {people} people (group and size: {groups}); each dot is a person, "
            "dots close together voted alike"
        ),
        "alt_group": "{label} {size}",
        "more": "… and {n} more (see the export).",
        "col_num": "#",
        "col_text": "Argument",
        "col_stance": "Stance",
        "col_votes": "Votes",
        "col_agree": "Agree",
        "col_disagree": "Disagree",
        "col_pass": "Pass",
        "col_support": "Support",
        "col_group": "Group",
        "col_size": "Size",
        "col_count": "Count",
        "col_share": "Share",
        "withheld": "Figures drawn from fewer than {min} people are not published (—).",
        "hidden_arguments": "{n} argument(s) hidden by moderators.",
        "reproducibility": "Reproducibility",
        "repro_line": (
            "Schema {schema}, analysis {analysis}, themes {themes}, seed {seed}: "
            "{participants} participants, {positions} positions, {arguments} arguments, "
            "{votes} votes, {clustered} participants clustered."
        ),
        "no_analysis": "none",
        "period": "From {opens} to {closes} (UTC)",
        "vote_sign": "Votes: agree = +1, disagree = −1, pass = 0.",
        "groups_others": (
            "{count} other clustered participants are in groups not detailed: each has fewer "
            "than {min} people, or a size from which a smaller group's could be deduced."
        ),
        "groups_none": (
            "The {count} clustered participants are in groups not detailed: each has fewer "
            "than {min} people, or a size from which a smaller group's could be deduced."
        ),
        "common_ground": "Common ground",
        "common_ground_hint": (
            "arguments agreed on from both sides of the main axis of opinion, by a Community "
            "Notes-style model: a bridging score of at least {intercept} and a factor below "
            "{factor} in absolute value"
        ),
        "common_ground_line": (
            "bridging score {intercept}, factor {factor}, {votes} votes (passes left out)"
        ),
        "carried": "Carried over from the previous round",
        "carried_hint": (
            "arguments the previous round's summary listed as common ground or as what "
            "divides, put to the vote again in this round: the share of voters who agreed then "
            "and now (published from {min} voters)"
        ),
        "carried_mark": "{num} (carried over from round {code})",
        "carried_common_ground": "listed as common ground",
        "carried_divisive": "listed as what divides",
        "carried_then": "{share}% of {votes} voters agreed then",
        "carried_then_withheld": "too few votes then: {votes} voters",
        "carried_now": "{share}% of {votes} voters agree now",
        "carried_now_withheld": "too few votes yet: {votes} voters",
        "carried_line": "{listed}; {then}; {now}",
        # ---- summary: numbers, dates, quotes, chart and export formats (bot.summary) ----
        "decimal_sep": ".",
        "percent": "{value}%",
        "no_figure": "—",
        "date_format": "%Y-%m-%d %H:%M",
        "quote": "« {text}{cut} »",
        "quote_cut": " […]",
        "chart_tally": "Stances",
        "chart_map": "Opinion map",
        "chart_bar": "{count} ({share}%)",
        "chart_group": "{label} · {size} people",
        # ---- end of the summary block ----
    },
}


class Messages:
    """Looks messages up in one language."""

    def __init__(self, language: str) -> None:
        if language not in CATALOGUES:
            raise ValueError(f"no catalogue for language {language!r}")
        self.language = language
        self._catalogue = CATALOGUES[language]

    def __call__(self, key: str, **fields: Any) -> str:
        return self._catalogue[key].format(**fields)

    def stance_label(self, stance: str) -> str:
        return STANCE_LABELS[self.language].get(stance, stance)
