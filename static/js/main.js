// Boot: make the model (store, clock), the view state, the views and the controls, give
// each what it needs, connect, and start the animation loop. Nothing else happens here.
// The page is a view of the event stream; every change to the simulation is a command.
import { Announcer } from "./announce.js";
import { Bookmark } from "./bookmark.js";
import { CallControl } from "./callmode.js";
import { VirtualClock } from "./clock.js";
import { Commands } from "./commands.js";
import { Connection } from "./connection.js";
import { Controls } from "./controls.js";
import { CostChart } from "./costchart.js";
import { Diagram, LowerTabs } from "./diagram.js";
import { FailureControls } from "./failures.js";
import { Feed } from "./feed.js";
import { t } from "./i18n.js";
import { ConnectionIndicator } from "./indicator.js";
import { Keys } from "./keys.js";
import { Lessons } from "./lessons.js";
import { LanguageMenu } from "./langmenu.js";
import { EventLog } from "./log.js";
import { startLoop } from "./loop.js";
import { Notice } from "./notice.js";
import { Panels } from "./panels.js";
import { Presentation } from "./present.js";
import { Room, roomConnection } from "./room.js";
import { SemanticsView, setupFrom } from "./semantics.js";
import { Share } from "./share.js";
import { Stage } from "./stage.js";
import { Timeline } from "./timeline.js";
import { Store } from "./store.js";
import { ViewState } from "./viewstate.js";

const $ = (sel) => document.querySelector(sel);

const store = new Store();
const clock = new VirtualClock();
const view = new ViewState();
const stats = { frames: 0, batches: 0, events: 0, snapshots: 0 };
const announcer = new Announcer($("#status"));
const notice = new Notice($("#notice"), $("#notice-text"), $("#notice-close"));
// The language menu; a ?lang= the page does not have is said in the notice.
new LanguageMenu({ select: $("#lang"), notice });
const conn = roomConnection(Connection); // follows a room at /room/<token> (room.js)
const commands = new Commands({ conn, store, announcer, view });
const send = commands.send;

const failureControls = new FailureControls({
  panel: $("#failures"), stageEl: $("#stage-view"), sameNote: $("#same-note"), store, view, send, announcer,
});
const stage = new Stage({
  canvas: $("#stage-canvas"), stageEl: $("#stage-view"), senderEl: $("#sender"), receiverEl: $("#receiver"),
  store, view, onFailureClick: (point) => failureControls.toggle(point),
});
const log = new EventLog($("#log"), $("#log-count"), store, view);
const panels = new Panels(store, view, (seq) => log.jumpToSeq(seq), (id) => diagram.reveal(id, { show: false }));
// The space-time diagram shares the lower-left place with the orders (a tab switch);
// window.amo.diagram.reveal(orderId) shows where an order's states parted.
const diagramPanel = $("#diagram-panel");
const diagram = new Diagram({
  canvas: $("#diagram-canvas"), plot: $("#diagram-plot"), summary: $("#diagram-summary"), store, view,
  buttons: { follow: $("#dg-follow"), zoomIn: $("#dg-zoom-in"), zoomOut: $("#dg-zoom-out"), svg: $("#dg-svg"), png: $("#dg-png") },
  getRun: () => conn.run, onPick: (seq) => log.jumpToSeq(seq), isShown: () => diagramPanel.getClientRects().length > 0,
  show: () => lowerTabs.select(1), onRunKind: (metrics) => { $("#tab-orders").textContent = metrics ? t("tabs.metrics") : t("tabs.orders"); },
});
// The cost of loss (the third tab): the engine's loss sweep, fetched when first opened.
const costChart = new CostChart({ canvas: $("#cost-canvas"), plot: $("#cost-plot"), caption: $("#cost-caption"), status: $("#cost-status") });
const lowerTabs = new LowerTabs({
  lower: $("#lower"), tabs: [$("#tab-orders"), $("#tab-diagram"), $("#tab-cost")], names: ["orders", "diagram", "cost"],
  onChange: (i) => (i === 2 ? costChart.open() : diagram.resize()),
});
const controls = new Controls({
  store, clock, send, announcer, notice,
  els: {
    send: $("#send"), play: $("#play"), pause: $("#pause"), step: $("#step"), reset: $("#reset"),
    scenario: $("#scenario"), seed: $("#seed"), explains: $("#explains"), speed: $("#speed"), speedOut: $("#speed-out"),
  },
});
const timeline = new Timeline({
  store, clock, send, announcer,
  els: { stage: $("#stage"), slider: $("#timeline"), out: $("#timeline-out"), back: $("#step-back"), live: $("#live"), fork: $("#fork"), exportOriginal: $("#export-original") },
});
const share = new Share({
  send, store, clock, timeline, controls, announcer, notice,
  els: { copy: $("#copy-link"), exportBtn: $("#export-run"), exportEvents: $("#export-events"), exportOriginal: $("#export-original"), importBtn: $("#import-run"), importFile: $("#import-file") },
});
// A choice in the Share menu closes it.
$("#run-menu").addEventListener("click", (ev) => {
  if (ev.target.closest(".menu button")) $("#run-menu").open = false;
});
// Step in the past goes one event on (the mirror of Step back); in the present, the run's.
const stepInRun = controls.actions.step;
controls.actions.step = () => (timeline.inPast ? timeline.stepForward() : stepInRun());
const bookmark = new Bookmark({
  search: window.location.search, store, controls, send, notice, announcer,
  importRun: (run, at) => share.importRun(run, at),
});
// Every answered command may change the run or the moment shown: the address bar follows.
commands.after = (cmd) => cmd !== "export" && cmd !== "history" && share.changed();
const indicator = new ConnectionIndicator($("#connection"), announcer);
const presentation = new Presentation({ button: $("#present"), onChange: () => stage.resize(), announcer });
// Lessons (issue 11): the player and its list (keys.js gives it Next, Back and Escape while a
// lesson is open), and the Call control (asynchronous message or synchronous call).
const lessons = new Lessons({
  store, clock, conn, send, timeline, stage, lowerTabs, announcer, notice, share,
  els: {
    button: $("#lessons-btn"), dialog: $("#lessons-dialog"), list: $("#lessons-list"), panel: $("#lesson"),
    title: $("#lesson-title"), pos: $("#lesson-pos"), caption: $("#lesson-caption"), look: $("#lesson-look"),
    form: $("#lesson-predict"), question: $("#lesson-q"), choices: $("#lesson-choices"), reveal: $("#lesson-reveal"),
    result: $("#lesson-result"), back: $("#lesson-back"), next: $("#lesson-next"), close: $("#lesson-close"), marks: $("#lesson-marks"),
  },
});
const callControl = new CallControl({ select: $("#call"), store, send });
bookmark.openLesson = (id, step) => lessons.openFromLink(id, step);
share.lessonParams = () => lessons.linkParams();
// Compare semantics (issue 12): three lanes on one clock and the truth table, over the page;
// it owns the address bar while open (view=semantics) and the keys it knows.
const semantics = new SemanticsView({
  notice, announcer,
  onOpenChange: (open) => (open ? stage.resize() : (share.changed(), stage.resize())),
  template: $("#semantics-template"), button: $("#semantics-btn"),
});
semantics.pageSetup = () => ({ scenario: store.scenario || undefined, seed: $("#seed").value || undefined });
share.hold = () => semantics.isOpen();
if (new URLSearchParams(window.location.search).get("view") === "semantics") {
  semantics.open(setupFrom(window.location.search), { fromLink: true });
}
const keysDialog = $("#keys-dialog");
$("#keys-help").addEventListener("click", () => keysDialog.showModal());
const pointAt = (i) => failureControls.points[i];
new Keys({
  dialog: keysDialog,
  lesson: lessons,
  view: semantics,
  actions: {
    ...controls.actions,
    back: () => timeline.stepBack(),
    present: () => presentation.toggle(),
    help: () => keysDialog.showModal(),
    escape: () => (notice.shown ? notice.hide() : presentation.on && presentation.leave()),
    noticeShown: () => notice.shown, // Escape hides a notice before it closes a lesson
    failure: (i) => pointAt(i) && failureControls.toggle(pointAt(i)),
    arm: (i) => pointAt(i) && failureControls.arm(pointAt(i)),
  },
});

const feed = new Feed({
  store, clock, view, panels, log, controls, failureControls, bookmark, indicator, commands, announcer, notice, timeline, share, diagram, stats,
});
// A lesson that was open resumes after the first join; the Call control shows each run's.
const [feedJoined, feedSnapshot] = [feed.onJoined.bind(feed), feed.onSnapshot.bind(feed)];
feed.onJoined = (answer) => { feedJoined(answer); lessons.joined(); };
feed.onSnapshot = (snap) => { feedSnapshot(snap); callControl.show(); };
conn.open(feed);
startLoop({
  store, clock, view, stage, diagram, panels, log, failureControls, controls, timeline, announcer, stats,
  reducedMotion: window.matchMedia("(prefers-reduced-motion: reduce)"),
});

// For tests and the browser benchmark: handles to read (tests also call failureControls.build).
window.amo = { store, view, clock, conn, stage, diagram, costChart, stats, panels, log, failureControls, presentation, timeline, share, lessons, semantics };
// Rooms: Start a room, Join a room, following (issue 13); window.amo.room.publish / onState.
window.amo.room = new Room({ conn, notice, announcer, share, header: $("header.bar") });
