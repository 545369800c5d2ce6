// policywright web UI: one WebSocket, events in, commands/corrections/stop/resume out.
"use strict";
const $ = (id) => document.getElementById(id);
let socket = null;
let lines = [];

function log(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  if (cls) li.className = cls;
  // Oldest first, like a chat: new lines at the bottom, kept in view unless scrolled up.
  const box = $("log");
  const follow = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
  box.appendChild(li);
  while (box.children.length > 300) box.firstChild.remove();
  if (follow) box.scrollTop = box.scrollHeight;
}

function showQuestion(q) {
  $("question").hidden = !q;
  $("qtext").textContent = q ? `? ${q.question}` : "";
  const opts = (q && q.options) || [];
  $("qopts").textContent = opts.length ? ` (${opts.join(", ")})` : "";
  $("text").placeholder = q ? "your answer (a new command puts the question aside)" : "a command, or a correction while it runs";
}

function showProgram(code, provenance) {
  lines = code.split("\n");
  const ol = $("program");
  ol.innerHTML = "";
  lines.forEach((text) => { const li = document.createElement("li"); li.textContent = text || " "; ol.appendChild(li); });
  $("provenance").textContent = provenance || "";
}

function mark(line, cls) {
  const items = $("program").children;
  for (const li of items) li.classList.remove("active");
  if (line >= 1 && line <= items.length) {
    items[line - 1].classList.add(cls);
    if (cls === "active") items[line - 1].scrollIntoView({ block: "nearest" });
  }
}

function showThreads(threads) {
  const ul = $("threads");
  ul.innerHTML = "";
  for (const t of threads || []) {
    const li = document.createElement("li");
    li.textContent = `${t.thread_id}  [${t.status}]  ${t.command}`;
    li.dataset.thread = t.thread_id;
    li.title = "resume this thread";
    li.onclick = () => send({ type: "resume", thread_id: t.thread_id });
    ul.appendChild(li);
  }
}

function handle(e) {
  switch (e.event) {
    case "hello": $("state").textContent = e.state; showThreads(e.threads); showQuestion(e.question); break;
    case "state": $("state").textContent = e.state; if (e.state !== "waiting") showQuestion(null); break;
    case "threads": showThreads(e.threads); break;
    case "frames":
      for (const [cam, b64] of Object.entries(e.frames)) {
        let img = document.querySelector(`img[data-cam="${cam}"]`);
        if (!img) { img = document.createElement("img"); img.dataset.cam = cam; img.alt = cam; $("frames").appendChild(img); }
        img.src = `data:image/${e.format || "png"};base64,` + b64;
      }
      $("simtime").textContent = `sim ${Number(e.sim_time).toFixed(1)} s`;
      break;
    case "program": showProgram(e.code, e.provenance); log(`attempt ${e.attempt}: program written (${e.provenance})`); break;
    case "call_start": mark(e.line, "active"); log(`▶ line ${e.line}: ${e.name}`); break;
    case "call":
      // A failed or stopped call says why (never a bare mark); the clock is the sim's, cumulative.
      if (e.ok) {
        log(`✓ line ${e.line}: ${e.name}  (sim clock ${Number(e.sim_time).toFixed(1)} s)`);
        const li = $("program").children[e.line - 1];
        if (li) { li.classList.remove("active"); li.classList.add("done"); }
      }
      else if (e.preempted) log(`‖ line ${e.line}: ${e.name}: ${e.preempted}`);
      else log(`✗ line ${e.line}: ${e.name} failed: ${e.error || "no reason given"}`, "bad");
      break;
    case "say": log(`robot says: ${e.message}`, "good"); break;
    case "verdict": log(`verdict: ${e.success ? "achieved" : "not achieved"}: ${e.reason}`, e.success ? "good" : "bad"); break;
    case "correction": log(`correction "${e.text}" (${e.kind}): ${e.status}: ${e.message}`, e.status === "applied" ? "good" : "bad"); break;
    case "preempted": log(`paused: ${e.message}`); break;
    case "ack": log(`» ${e.message}`, e.accepted ? "" : "bad"); if (e.as === "put-aside") showQuestion(null); break;
    case "result":
      log(`■ ${e.status} (${e.thread_id}): ${e.reason}`, e.status === "succeeded" ? "good" : (e.status === "waiting" ? "" : "bad"));
      showQuestion(e.status === "waiting" && e.question ? e.question : null);
      break;
    case "error": log(`error: ${e.message}`, "bad"); break;
    default: break;
  }
}

function send(msg) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg));
}

function connect() {
  socket = new WebSocket(`ws://${location.host}/ws`);
  socket.onopen = () => log("connected");
  socket.onmessage = (m) => handle(JSON.parse(m.data));
  socket.onclose = () => { $("state").textContent = "disconnected"; setTimeout(connect, 1000); };
}

$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  log(`you: ${text}`, "you");
  send({ type: "submit", text });
  $("text").value = "";
});
$("stop").addEventListener("click", () => { log("you: STOP", "you"); send({ type: "stop" }); });
$("newtask").addEventListener("click", () => { log("you: new task", "you"); send({ type: "new" }); $("text").focus(); });
connect();
