// The dismissible notice under the top bar (a bookmark's unusable parameters): shown with
// a few lines of text, hidden by its ✕ button or Escape.

export class Notice {
  constructor(box, textEl, closeButton) {
    this.box = box;
    this.textEl = textEl;
    closeButton.addEventListener("click", () => this.hide());
  }

  get shown() {
    return !this.box.hidden;
  }

  /** A heading line, then one paragraph per line. */
  show(head, lines) {
    const box = this.textEl;
    box.textContent = "";
    const h = document.createElement("p");
    h.className = "notice-head";
    h.textContent = head;
    box.append(h);
    for (const line of lines) {
      const p = document.createElement("p");
      p.textContent = line;
      box.append(p);
    }
    this.box.hidden = false;
  }

  hide() {
    this.box.hidden = true;
  }
}
