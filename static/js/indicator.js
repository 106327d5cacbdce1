// The connection indicator in the top bar, and the status-line sentence said once when
// the link drops and once when it is back.

const WORDS = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
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
      ? "Connected (resumed)" : WORDS[state] || state;
    if ((state === "reconnecting" || state === "offline") && !this.away) {
      this.away = true;
      this.announcer.hold("Connection to the server lost: reconnecting…");
    } else if (state === "connected" && this.away) {
      this.away = false;
      this.announcer.release(detail === "resumed"
        ? "Reconnected: the view continues where it was."
        : "Reconnected: the server no longer had this run (it was restarted), so the run started again at t = 0.");
    }
  }
}
