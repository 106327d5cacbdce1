// The connection indicator in the top bar, and the status-line sentence said once when
// the link drops and once when it is back.
import { t } from "./i18n.js";

const WORDS = {
  connecting: t("conn.connecting"),
  connected: t("conn.connected"),
  reconnecting: t("conn.reconnecting"),
  offline: t("conn.offline"),
};

export class ConnectionIndicator {
  constructor(el, announcer) {
    this.el = el;
    this.text = el.querySelector(".text");
    this.announcer = announcer;
    this.away = false; // the connection dropped and is not back yet
  }

  /** state: connecting | connected | reconnecting | offline; detail: "resumed", a reason… */
  show(state, detail) {
    this.el.dataset.state = state;
    document.body.dataset.connection = state;
    this.text.textContent = state === "connected" && detail === "resumed"
      ? t("conn.resumed") : WORDS[state] || state;
    if ((state === "reconnecting" || state === "offline") && !this.away) {
      this.away = true;
      this.announcer.hold(t("conn.lost"));
    } else if (state === "connected" && this.away) {
      this.away = false;
      this.announcer.release(detail === "resumed"
        ? t("conn.back-resumed")
        : t("conn.back-new"));
    }
  }
}
