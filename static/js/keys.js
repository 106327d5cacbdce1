// The presenter's keyboard: Space, N, R, the arrows, PageDown/PageUp (a clicker), P, the
// digits and "?" act the same wherever the focus is, except while typing in a text field
// (the seed) or choosing in a list (the scenario). Listened to in the capture phase, so a
// focused checkbox, switch, slider or button never swallows them: Space plays, it does not
// toggle the checkbox. Toggling by keyboard stays possible: Enter on a checkbox, or the
// digit of its failure point. A slider keeps its Up/Down arrows and Home/End.

const TEXT_TYPES = new Set([
  "text", "number", "search", "email", "url", "tel", "password", "date", "time", "datetime-local", "month", "week",
]);

/** True when keys typed at `t` are text or a choice in a list, not shortcuts. */
export function typingIn(t) {
  if (!t || !t.tagName) return false;
  if (t.isContentEditable || t.tagName === "TEXTAREA" || t.tagName === "SELECT") return true;
  return t.tagName === "INPUT" && TEXT_TYPES.has(t.type);
}

/** The action of a key press, or null: {name, arg?}. Pure, for tests and for the list. */
export function actionOf(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return null;
  const key = ev.key;
  if (ev.repeat && !(key === "ArrowRight" || key === "PageDown")) return null;
  switch (key) {
    case " ":
    case "Spacebar":
      return { name: "toggle" };
    case "ArrowRight":
    case "PageDown":
      return { name: "step" };
    case "ArrowLeft":
    case "PageUp":
      return { name: "back" };
    case "n":
    case "N":
      return { name: "send" };
    case "r":
    case "R":
      return { name: "reset" };
    case "p":
    case "P":
      return { name: "present" };
    case "?":
      return { name: "help" };
    case "Escape":
      return { name: "escape" };
    default:
      break;
  }
  const digit = /^Digit([1-9])$/.exec(ev.code || "");
  if (digit) return { name: ev.shiftKey ? "arm" : "failure", arg: Number(digit[1]) - 1 };
  return null;
}

/** A choice in a radio group (a lesson's prediction): its arrows and Space are its own. */
function choosing(t, key) {
  return Boolean(t && t.tagName === "INPUT" && t.type === "radio"
    && (key === " " || key === "Spacebar" || key.startsWith("Arrow")));
}

export class Keys {
  /**
   * @param {object} o actions: {toggle, step, back, send, reset, present, help, escape,
   *   failure(i), arm(i)}; each returns nothing. dialog: the shortcuts <dialog>. lesson
   *   (lessons.js): while a lesson is open, Step, Step back and Escape are its Next, Back
   *   and Close (a clicker's PageDown and PageUp move through the lesson).
   */
  constructor({ actions, dialog, lesson = null, view = null }) {
    this.actions = actions;
    this.dialog = dialog;
    this.lesson = lesson;
    // A view over the page (semantics.js) that, while open, takes the keys it knows.
    this.view = view;
    window.addEventListener("keydown", (ev) => this.down(ev), true);
    // A checkbox or button acts on Space's keyup: that one is ours too.
    window.addEventListener("keyup", (ev) => {
      if ((ev.key === " " || ev.key === "Spacebar") && !typingIn(ev.target) && !this.dialogOpen()
        && !choosing(ev.target, ev.key)) ev.preventDefault();
    }, true);
    // Enter toggles a focused checkbox (Space is Play).
    document.addEventListener("keydown", (ev) => {
      const t = ev.target;
      if (ev.key === "Enter" && t && t.tagName === "INPUT" && t.type === "checkbox" && !ev.defaultPrevented) {
        ev.preventDefault();
        t.click();
      }
    });
  }

  dialogOpen() {
    return Boolean(this.dialog && this.dialog.open) || Boolean(document.querySelector("dialog[open]"));
  }

  down(ev) {
    if (typingIn(ev.target)) {
      // Escape still leaves a field (then the keys are the presenter's again).
      if (ev.key === "Escape") ev.target.blur();
      return;
    }
    if (choosing(ev.target, ev.key)) return;
    const a = actionOf(ev);
    if (!a) return;
    if (this.dialogOpen()) {
      // The list is open: "?" closes it, Escape closes it natively; other keys wait.
      if (a.name === "help" && this.dialog && this.dialog.open) {
        ev.preventDefault();
        this.dialog.close();
      }
      return;
    }
    ev.preventDefault();
    ev.stopPropagation();
    const lesson = this.lesson && this.lesson.isOpen() ? this.lesson : null;
    const view = this.view && this.view.isOpen() ? this.view : null;
    if (view && view.keys[a.name]) view.keys[a.name](a.arg);
    else if (lesson && a.name === "step") lesson.next();
    else if (lesson && a.name === "back") lesson.back();
    else if (lesson && a.name === "escape" && !(this.actions.noticeShown && this.actions.noticeShown())) lesson.close();
    else {
      const fn = this.actions[a.name];
      if (fn) fn(a.arg);
    }
  }
}
