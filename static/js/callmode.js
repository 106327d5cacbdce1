// The Call control (issue 11, lesson 6): how the Order service calls the Customer service in
// the next run, an asynchronous message (the default) or a synchronous call that blocks
// until the reply or its timeout (engine: Config.call, docs/events.md). Choosing starts a
// new run of the scenario with that call mode (`scenario` with `config.call`); the control
// shows the run's call mode after every snapshot. Bookmarkable as call=sync (bookmark.js).
export class CallControl {
  /** @param {object} o select (the <select>), store, send (commands) */
  constructor({ select, store, send }) {
    this.select = select;
    this.store = store;
    select.addEventListener("change", () => {
      const fields = { name: store.scenario || "happy-path", config: { call: select.value } };
      if (typeof store.seed === "number") fields.seed = store.seed;
      send("scenario", fields);
      select.blur();
    });
  }

  /** The run's call mode (after a snapshot). */
  show() {
    const call = (this.store.config && this.store.config.call) || "async";
    if (this.select.value !== call && document.activeElement !== this.select) this.select.value = call;
  }
}
