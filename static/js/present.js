// Presentation mode (the button and P; Escape leaves): the page goes full screen where the
// browser allows it, and html.presenting lays out the stage, the orders and the alarm at
// lecture-hall size (app.css). Remembered per tab, so a reload keeps the projector's view.

import { t } from "./i18n.js";

const KEY = "amo.presenting";

export class Presentation {
  /** @param {object} o button, onChange() (views re-measure), announcer */
  constructor({ button, onChange, announcer }) {
    this.button = button;
    this.onChange = onChange;
    this.announcer = announcer;
    this.on = false;
    this.full = false; // we asked for full screen and got it
    button.addEventListener("click", (ev) => {
      this.toggle();
      if (ev.detail > 0) button.blur();
    });
    document.addEventListener("fullscreenchange", () => {
      // Escape in full screen is the browser's: it leaves full screen, we leave the mode.
      if (!document.fullscreenElement && this.full) {
        this.full = false;
        if (this.on) this.leave();
      }
    });
    let stored = null;
    try {
      stored = sessionStorage.getItem(KEY);
    } catch {
      /* private mode */
    }
    if (stored === "1") this.enter({ fullScreen: false, quiet: true });
  }

  toggle() {
    if (this.on) this.leave();
    else this.enter();
  }

  enter({ fullScreen = true, quiet = false } = {}) {
    this.on = true;
    this.show();
    if (fullScreen && !document.fullscreenElement && document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen({ navigationUI: "hide" }).then(
        () => { this.full = true; },
        () => { /* not allowed here (an iframe, a test browser): the layout alone */ },
      );
    }
    if (!quiet) this.announcer.say(t("present.on"));
  }

  leave() {
    this.on = false;
    this.show();
    if (this.full && document.fullscreenElement && document.exitFullscreen) {
      this.full = false;
      document.exitFullscreen().catch(() => {});
    }
    this.announcer.say(t("present.off"));
  }

  show() {
    document.documentElement.classList.toggle("presenting", this.on);
    this.button.setAttribute("aria-pressed", String(this.on));
    try {
      sessionStorage.setItem(KEY, this.on ? "1" : "0");
    } catch {
      /* ignore */
    }
    this.onChange();
  }
}
