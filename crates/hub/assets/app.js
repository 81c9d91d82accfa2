// The county dashboard's script: signs in, then draws what /api/view/{page} answers
// (cards, ECharts charts, tables with .xlsx downloads). It computes nothing itself,
// so the page shows exactly the API's numbers. Everything it loads comes from the hub.
"use strict";

const state = { me: null, semester: "", charts: [] };

function $(id) { return document.getElementById(id); }

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function api(path, options) {
  const res = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  return { status: res.status, body };
}

function showLogin(message) {
  state.me = null;
  $("nav").hidden = true;
  $("user").hidden = true;
  $("page").hidden = true;
  $("login").hidden = false;
  // Nothing of the previous person stays on the page.
  $("who").textContent = "";
  for (const c of state.charts) c.dispose();
  state.charts = [];
  for (const id of ["title", "semester-label", "notes", "cards", "charts", "tables"]) $(id).replaceChildren();
  $("school-select").replaceChildren(el("option", { value: "" }, "学校…"));
  $("semester").replaceChildren();
  $("login-error").textContent = message || "";
}

async function login(ev) {
  ev.preventDefault();
  const r = await api("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  if (r.status !== 200) {
    $("login-error").textContent = (r.body && r.body.error) || "登录失败";
    return;
  }
  $("password").value = "";
  await start();
}

async function logout() {
  await api("/api/logout", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  showLogin("已退出");
}

async function start() {
  const r = await api("/api/me");
  if (r.status === 401) { showLogin(""); return; }
  if (r.status !== 200) { showLogin((r.body && r.body.error) || "无法连接中心"); return; }
  state.me = r.body;
  $("login").hidden = true;
  $("nav").hidden = false;
  $("user").hidden = false;
  $("county").textContent = state.me.county + " 研培看板";
  $("who").textContent = state.me.name + "（" + state.me.role + "）";
  const sem = $("semester");
  sem.replaceChildren();
  for (const s of state.me.semesters) {
    const o = el("option", { value: s.code }, s.label);
    if (s.code === state.me.default_semester) o.selected = true;
    sem.appendChild(o);
  }
  state.semester = sem.value;
  const sel = $("school-select");
  sel.replaceChildren(el("option", { value: "" }, "学校…"));
  for (const s of state.me.schools) sel.appendChild(el("option", { value: s.code }, s.name + "（" + s.code + "）"));
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/overview";
  else route();
}

function parseRoute() {
  const parts = (location.hash || "#/overview").replace(/^#\/?/, "").split("/");
  const page = parts[0] || "overview";
  const school = parts[1] ? decodeURIComponent(parts[1]) : "";
  return { page, school };
}

function query(extra) {
  const q = new URLSearchParams();
  if (state.semester) q.set("semester", state.semester);
  for (const [k, v] of Object.entries(extra || {})) if (v !== "" && v !== undefined) q.set(k, v);
  return q.toString();
}

async function route() {
  if (!state.me) return;
  const { page, school } = parseRoute();
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  $("school-select").value = page === "school" ? school : "";
  const qs = query({ school });
  const r = await api("/api/view/" + encodeURIComponent(page) + "?" + qs);
  render(page, qs, r);
}

function clearPage() {
  for (const c of state.charts) c.dispose();
  state.charts = [];
  for (const id of ["notes", "cards", "charts", "tables"]) $(id).replaceChildren();
  $("error").hidden = true;
  $("error").textContent = "";
}

function render(page, qs, r) {
  clearPage();
  $("page").hidden = false;
  $("page").dataset.page = page;
  if (r.status === 401) { showLogin("登录已过期，请重新登录"); return; }
  if (r.status !== 200) {
    $("title").textContent = r.status === 403 ? "无权查看" : "无法显示";
    $("semester-label").textContent = "";
    $("error").hidden = false;
    $("error").dataset.status = String(r.status);
    $("error").textContent = (r.body && r.body.error) || ("请求失败（" + r.status + "）");
    return;
  }
  const v = r.body;
  $("title").textContent = v.title;
  $("semester-label").textContent = v.semester;
  for (const n of v.notes) $("notes").appendChild(el("p", { class: "note" }, n));
  for (const c of v.cards) {
    const card = el("div", { class: "card", "data-id": c.id });
    card.appendChild(el("div", { class: "label" }, c.label));
    card.appendChild(el("div", { class: "value" }, c.value));
    $("cards").appendChild(card);
  }
  v.charts.forEach((c, i) => drawChart(c, i));
  v.tables.forEach((t, i) => drawTable(page, qs, t, i));
}

function drawChart(c, i) {
  const box = el("div", { class: "chart", id: "chart-" + i, "data-title": c.title });
  $("charts").appendChild(box);
  if (typeof echarts === "undefined") { box.textContent = c.title + "（图表库未加载）"; return; }
  const chart = echarts.init(box);
  chart.setOption({
    title: { text: c.title, left: "center", textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis" },
    legend: { bottom: 0, type: "scroll" },
    grid: { left: 50, right: 20, top: 40, bottom: c.categories.length > 8 ? 90 : 50 },
    xAxis: { type: "category", data: c.categories, axisLabel: { rotate: c.categories.length > 8 ? 40 : 0, interval: 0 } },
    yAxis: { type: "value", minInterval: 1 },
    series: c.series.map((s) => ({ name: s.name, type: c.kind, data: s.data, smooth: false })),
    animation: false,
  });
  state.charts.push(chart);
}

function drawTable(page, qs, vt, i) {
  const t = vt.table;
  const block = el("div", { class: "table-block", "data-table": String(i) });
  const h = el("h2", {}, t.name);
  const href = "/api/view/" + encodeURIComponent(page) + "?" + qs + (qs ? "&" : "") + "format=xlsx&table=" + i;
  h.appendChild(el("a", { class: "download", href: href, download: "" }, "下载 .xlsx"));
  block.appendChild(h);
  const table = el("table", { id: "table-" + i });
  const head = el("tr");
  for (const name of t.headers) head.appendChild(el("th", {}, name));
  table.appendChild(el("thead")).appendChild(head);
  const body = el("tbody");
  const hl = new Set(vt.highlight);
  t.rows.forEach((row, r) => {
    const tr = el("tr", hl.has(r) ? { class: "highlight" } : {});
    row.forEach((cell, c) => {
      const td = el("td", typeof cell === "number" ? { class: "num" } : {});
      if (vt.link_column === c && typeof cell === "string" && cell) {
        td.appendChild(el("a", { href: "#/school/" + encodeURIComponent(cell) }, cell));
      } else {
        td.textContent = typeof cell === "number" ? String(cell) : cell;
      }
      tr.appendChild(td);
    });
    body.appendChild(tr);
  });
  table.appendChild(body);
  block.appendChild(table);
  $("tables").appendChild(block);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("semester").addEventListener("change", (e) => { state.semester = e.target.value; route(); });
  $("school-select").addEventListener("change", (e) => { if (e.target.value) location.hash = "#/school/" + encodeURIComponent(e.target.value); });
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", () => { for (const c of state.charts) c.resize(); });
  start();
});
