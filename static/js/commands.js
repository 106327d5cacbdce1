// Sending a command and saying what became of it. Three outcomes, kept apart: an answer
// (the pacing a play or pause answer carries goes to the store), a refusal (definite:
// "Could not …"), or no answer in time (indefinite: it may or may not have been applied,
// so the page re-syncs from a snapshot of the session and says when it has).
import { describeError } from "./connection.js";
import { t } from "./i18n.js";
import { noAnswer, refused } from "./words.js";

export class Commands {
  /** @param {object} o conn (Connection), store, announcer (the status line), view
   *   (ViewState: a run turned custom redraws its caption) */
  constructor({ conn, store, announcer, view }) {
    this.conn = conn;
    this.view = view;
    this.store = store;
    this.announcer = announcer;
    this.unanswered = null; // the words for a command that got no answer, until the re-sync
    this.after = null; // (cmd) after an answered command (the address bar follows the run)
    this.send = this.send.bind(this);
  }

  /** Send a command; resolves with the answer ({ok, ...}), never rejects. `quiet`: a
   * refusal is the caller's to say (the status line is left alone). */
  async send(cmd, fields, { quiet = false } = {}) {
    const answer = await this.conn.command(cmd, fields);
    if (answer.ok) {
      if (typeof answer.playing === "boolean") this.store.setPacing({ playing: answer.playing, pace: answer.pace });
      if (this.after) this.after(cmd);
      if (answer.custom && !this.store.custom) {
        this.store.custom = true;
        if (this.view) this.view.dirty.failures = true;
      }
    } else if (answer.indefinite) {
      this.unanswered = noAnswer(cmd);
      this.announcer.say(t("cmd.resyncing", { what: this.unanswered }));
      this.conn.resync();
    } else if (!quiet) {
      this.announcer.say(refused(cmd, describeError(answer.error)));
    }
    return answer;
  }

  /** A snapshot is drawn: if it ends a re-sync, say so; returns whether it did. */
  snapshotDrawn() {
    if (!this.unanswered) return false;
    this.announcer.say(t("cmd.resynced", { what: this.unanswered }));
    this.unanswered = null;
    return true;
  }
}
