// The interview report: scores chart, strengths and improvements with evidence, per-answer
// feedback, transcript with recordings and the latency summary. Waits for the report_ready push
// when the report is still being written.
import { applyTranslations, installLanguageToggle, t } from "./i18n.js";
import { barChart } from "./chart.js";
import { LiveStream } from "./live.js";
import { ensureSignedIn } from "./signin.js";
import { renderTranscript } from "./transcript.js";

const $ = (id) => document.getElementById(id);
const interviewId = location.pathname.split("/").pop();
const page = { review: null, report: null, state: "loading" };
window.reportPage = page;
let live = null;
let fetching = null;
let missed = false;

function notice(text) {
  $("notice").hidden = !text;
  $("notice").textContent = text || "";
}

function label(name) {
  // Competency names come from the scorer as identifiers ("problem_solving").
  return String(name).replaceAll("_", " ");
}

function round(v) {
  return typeof v === "number" ? Math.round(v) : "–";
}

async function loadReview() {
  const resp = await fetch(`/api/review/interviews/${interviewId}`);
  if (resp.status === 404) {
    notice(t("report_missing"));
    page.state = "missing";
    return false;
  }
  page.review = await resp.json();
  return true;
}

async function loadReport() {
  const resp = await fetch(`/api/interviews/${interviewId}/report`);
  if (resp.status === 200) {
    const body = await resp.json();
    page.report = body.report && typeof body.report === "object" ? body.report : body;
    return true;
  }
  return false;
}

function waitForReport() {
  page.state = "waiting";
  notice(t("report_waiting"));
  if (live) return;
  live = new LiveStream("/api/live", {
    onMessage: async (msg) => {
      const ready =
        (msg.type === "report_ready" && msg.interview_id === interviewId) ||
        (msg.type === "interview" && msg.interview.interview_id === interviewId && msg.interview.report_ready);
      // Two pushes can say "ready" back to back (the report_ready event and the snapshot after
      // it): one fetch answers both. A push that lands during a fetch that comes back empty asks
      // once more, so none is lost.
      if (!ready || !live) return;
      if (fetching) {
        missed = true;
        return;
      }
      let loaded = false;
      do {
        missed = false;
        fetching = loadReport();
        loaded = await fetching;
        fetching = null;
      } while (!loaded && missed && live);
      if (loaded && live) {
        live.close();
        live = null;
        notice(null);
        render();
      }
    },
    onStatus: (status) => {
      if (status === "open") live.send({ type: "watch", interview_id: interviewId });
    },
  });
}

function render() {
  const review = page.review;
  const report = page.report;
  const iv = review.interview;
  $("report").hidden = false;
  $("candidate").textContent = iv.candidate_name || t("unknown");
  const when = iv.started_at || iv.created_at;
  $("meta").textContent = [
    iv.target_role || "–",
    `${t("language")}: ${iv.language === "ko" ? t("lang_ko") : t("lang_en")}`,
    when ? `${t("date")}: ${new Date(when).toLocaleString()}` : "",
  ]
    .filter(Boolean)
    .join(" · ");
  renderTranscript($("transcript"), review.turns, { questionTags: true });
  renderLatency(review.latency_summary || {});
  if (!report) {
    $("overall").textContent = "";
    $("summary").textContent = "";
    return;
  }
  page.state = "ready";
  $("summary").textContent = report.summary || "";
  if (report.status === "partial") $("summary").textContent += ` ${t("partial")}`;
  $("overall").innerHTML = "";
  $("overall").append(String(round(report.overall)), Object.assign(document.createElement("small"), { textContent: " / 100" }));
  const rows = [{ label: t("overall"), value: report.overall, emphasis: true }];
  for (const [name, value] of Object.entries(report.competencies || {})) rows.push({ label: label(name), value });
  $("chart").innerHTML = "";
  $("chart").append(barChart(rows, { max: 100, title: t("competencies") }));
  renderFeedback($("strengths"), report.strengths || []);
  renderFeedback($("improvements"), report.improvements || []);
  renderAnswers(report.answers || []);
}

function renderFeedback(list, items) {
  list.innerHTML = "";
  for (const item of items) {
    const li = document.createElement("li");
    const head = document.createElement("strong");
    head.textContent = `${label(item.competency)} (${round(item.score)})`;
    const text = document.createElement("span");
    text.textContent = ` ${item.text || ""}`;
    li.append(head, text);
    if (item.evidence) {
      const quote = document.createElement("blockquote");
      quote.textContent = `“${item.evidence}”`;
      quote.setAttribute("aria-label", t("evidence"));
      li.append(quote);
    }
    list.append(li);
  }
}

function renderAnswers(answers) {
  const box = $("answers");
  box.innerHTML = "";
  answers.forEach((a, i) => {
    const card = document.createElement("article");
    card.className = "answer-card";
    card.dataset.answerKey = a.answer_key || "";
    const h = document.createElement("h4");
    const score = a.status === "done" ? `${t("score")} ${round(a.overall)}` : t("score_failed");
    const tag = Number.isInteger(a.question_index)
      ? ` · Q${a.question_index + 1}${a.follow_up > 0 ? ` · ${t("follow_up_tag", { n: a.follow_up })}` : ""}`
      : "";
    h.textContent = `${i + 1}. ${score}${tag}`;
    const q = document.createElement("p");
    q.innerHTML = `<strong></strong> `;
    q.firstChild.textContent = `${t("question")}:`;
    q.append(a.question || "–");
    const ans = document.createElement("p");
    ans.innerHTML = `<strong></strong> `;
    ans.firstChild.textContent = `${t("answer")}:`;
    ans.append(a.answer || "–");
    const parts = (a.seqs || []).length;
    if (parts > 1) {
      const note = document.createElement("span");
      note.className = "muted";
      note.dataset.role = "parts";
      note.textContent = ` (${t("answer_parts_note", { n: parts })})`;
      ans.append(note);
    }
    card.append(h, q, ans);
    if (a.status === "done" && a.complete === false) {
      const warn = document.createElement("p");
      warn.className = "muted";
      warn.textContent = t("partial");
      card.append(warn);
    }
    const comps = Object.entries(a.competencies || {});
    if (comps.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = comps.map(([k, v]) => `${label(k)} ${round(v)}`).join(" · ");
      card.append(p);
    }
    const notes = [...(a.strengths || []).map((s) => ["+", s]), ...(a.improvements || []).map((s) => ["–", s])];
    if (notes.length) {
      const ul = document.createElement("ul");
      for (const [sign, note] of notes) {
        const li = document.createElement("li");
        li.textContent = `${sign} ${typeof note === "string" ? note : note.text || JSON.stringify(note)}`;
        ul.append(li);
      }
      card.append(ul);
    }
    box.append(card);
  });
}


function renderLatency(summary) {
  const body = $("latency").tBodies[0];
  body.innerHTML = "";
  for (const [stage, row] of Object.entries(summary)) {
    const tr = document.createElement("tr");
    for (const value of [t(`lat_${stage}`), row.count, `${row.p50_ms} ms`, `${row.p95_ms} ms`]) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.append(td);
    }
    body.append(tr);
  }
}

async function start() {
  applyTranslations();
  installLanguageToggle($("lang-toggle"), () => page.review && render());
  $("print").addEventListener("click", () => window.print());
  await ensureSignedIn($("signin"));
  if (!(await loadReview())) return;
  if (!(await loadReport())) waitForReport();
  render();
}

start();
