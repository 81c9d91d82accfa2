// The county dashboard's script: signs in, then draws what /api/view/{page} answers
// (cards, filters, ECharts charts, tables with .xlsx downloads). It computes no figure
// itself, so the page shows exactly the API's numbers; it only sorts, searches and pages
// the rows it was given. The page and its filters live in the URL: #/compliance?school=…
// Everything it loads comes from the hub.
"use strict";

const state = { me: null, semester: "", charts: [], tables: [], drawn: 0, asked: 0 };
const PAGE_SIZE = 50;
// Distinct colours, told apart also by people with common colour blindness (first eight).
const COLORS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
  "#8c564b", "#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#ff9896", "#2ca02c", "#aec7e8"];
const PHONE = window.matchMedia("(max-width: 700px)");

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
  $("menu-toggle").hidden = true;
  $("page").hidden = true;
  $("login").hidden = false;
  // Nothing of the previous person stays on the page.
  $("who").textContent = "";
  clearPage();
  for (const id of ["title", "semester-label"]) $(id).replaceChildren();
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
  $("menu-toggle").hidden = false;
  $("county").textContent = state.me.county + " 研培看板";
  $("who").textContent = state.me.name + "（" + state.me.role + "）";
  const mine = document.querySelector('#nav a[data-page="mine"]');
  mine.hidden = state.me.kind === "operator";
  mine.textContent = state.me.kind === "staff" ? "我的工作" : "本校";
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
  for (const s of state.me.schools) sel.appendChild(el("option", { value: s.code }, s.name));
  const home = state.me.kind === "operator" ? "#/overview" : "#/mine";
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = home;
  else route();
}

// #/page/SCHOOL or #/page?k=v…: the page and its parameters.
function parseRoute() {
  const [path, search] = (location.hash || "#/overview").replace(/^#\/?/, "").split("?");
  const parts = path.split("/");
  const params = new URLSearchParams(search || "");
  if (parts[1]) params.set("school", decodeURIComponent(parts[1]));
  return { page: parts[0] || "overview", params };
}

function go(page, params) {
  const q = params.toString();
  location.hash = "#/" + page + (q ? "?" + q : "");
}

async function route() {
  if (!state.me) return;
  const { page, params } = parseRoute();
  if (params.get("semester")) {
    state.semester = params.get("semester");
    $("semester").value = state.semester;
  }
  document.body.classList.remove("menu-open");
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  $("school-select").value = page === "school" ? (params.get("school") || "") : "";
  if (state.semester) params.set("semester", state.semester);
  const qs = params.toString();
  // Only the last page asked for is drawn, whichever answer comes back first.
  const asked = ++state.asked;
  const r = await api("/api/view/" + encodeURIComponent(page) + "?" + qs);
  if (asked === state.asked) render(page, params, r);
}

function clearPage() {
  for (const c of state.charts) c.dispose();
  state.charts = [];
  state.tables = [];
  for (const id of ["notes", "filters", "cards", "charts", "tables"]) $(id).replaceChildren();
  $("error").hidden = true;
  $("error").textContent = "";
}

function render(page, params, r) {
  draw(page, params, r);
  // Tests and scripts wait on this: the page has been drawn anew.
  state.drawn += 1;
  $("page").dataset.drawn = String(state.drawn);
}

function draw(page, params, r) {
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
  for (const f of v.filters) drawFilter(page, params, f);
  for (const c of v.cards) drawCard(c);
  v.charts.forEach((c, i) => drawChart(c, i));
  // Each chart took its box's width when drawn; the grid has settled since.
  for (const c of state.charts) c.resize();
  v.tables.forEach((t, i) => drawTable(page, params, t, i));
}

function drawFilter(page, params, f) {
  const label = el("label", { class: "filter" }, f.label + " ");
  const select = el("select", { id: "filter-" + f.name, name: f.name });
  for (const o of f.options) {
    const opt = el("option", { value: o.value }, o.label);
    if (o.value === f.value) opt.selected = true;
    select.appendChild(opt);
  }
  select.addEventListener("change", () => {
    const next = new URLSearchParams(params);
    if (select.value) next.set(f.name, select.value); else next.delete(f.name);
    go(page, next);
  });
  label.appendChild(select);
  $("filters").appendChild(label);
}

function drawCard(c) {
  const card = el("div", { class: "card", "data-id": c.id });
  card.appendChild(el("div", { class: "label" }, c.label));
  if (c.link) {
    const a = el("a", { class: "value", href: withSemester(c.link) }, c.value);
    card.appendChild(a);
  } else {
    card.appendChild(el("div", { class: "value" }, c.value));
  }
  $("cards").appendChild(card);
}

function withSemester(hash) {
  if (!state.semester) return hash;
  return hash + (hash.includes("?") ? "&" : "?") + "semester=" + encodeURIComponent(state.semester);
}

function isEmptyChart(c) {
  return c.categories.length === 0 || c.series.every((s) => s.data.every((x) => !x));
}

function drawChart(c, i) {
  const box = el("figure", { class: "chart-box", "data-title": c.title });
  const chartEl = el("div", { class: "chart", id: "chart-" + i });
  box.appendChild(chartEl);
  if (c.note) box.appendChild(el("figcaption", { class: "chart-note" }, c.note));
  $("charts").appendChild(box);
  if (isEmptyChart(c)) {
    chartEl.classList.add("empty");
    chartEl.appendChild(el("div", { class: "chart-title" }, c.title));
    chartEl.appendChild(el("div", { class: "no-data" }, "暂无数据"));
    return;
  }
  if (typeof echarts === "undefined") { chartEl.textContent = c.title + "（图表库未加载）"; return; }
  const chart = echarts.init(chartEl);
  chart.setOption(chartOption(c));
  state.charts.push(chart);
}

function chartOption(c) {
  const phone = PHONE.matches;
  const many = c.categories.length > (phone ? 4 : 8);
  return {
    color: COLORS,
    title: { text: c.title, left: "center", top: 4, textStyle: { fontSize: phone ? 12 : 14, width: phone ? 340 : 900, overflow: "truncate" } },
    tooltip: { trigger: "axis", confine: true },
    legend: { bottom: 0, type: "scroll" },
    grid: { left: many ? (phone ? 30 : 50) : 8, right: 16 + 13 * c.x_name.length, top: 66, bottom: 36, containLabel: true },
    xAxis: {
      type: "category", data: c.categories, name: c.x_name, nameLocation: "end", nameGap: 8,
      // Many labels turn and are cut short; a few are wrapped to their share of the width.
      axisLabel: many
        ? { rotate: phone ? 60 : 35, interval: "auto", hideOverlap: true, width: phone ? 80 : 120, overflow: "truncate" }
        : { interval: 0, width: Math.floor((phone ? 280 : 560) / Math.max(1, c.categories.length)), overflow: "break" },
    },
    yAxis: { type: "value", minInterval: 1, name: c.y_name, nameGap: 12, nameTextStyle: { align: "left" } },
    series: c.series.map((s) => ({ name: s.name, type: c.kind, data: s.data, smooth: false })),
    animation: false,
  };
}

// A table: all its rows kept here, shown sorted, searched and a page at a time.
function drawTable(page, params, vt, i) {
  const t = vt.table;
  const block = el("div", { class: "table-block", "data-table": String(i) });
  const h = el("h2", {}, t.name);
  const qs = params.toString();
  const href = "/api/view/" + encodeURIComponent(page) + "?" + qs + (qs ? "&" : "") + "format=xlsx&table=" + i;
  h.appendChild(el("a", { class: "download", href: href, download: "" }, "下载 .xlsx"));
  block.appendChild(h);
  const tools = el("div", { class: "toolbar" });
  const search = el("input", { type: "search", class: "search", id: "search-" + i, placeholder: "搜索本表…", "aria-label": "搜索" + t.name });
  tools.appendChild(search);
  block.appendChild(tools);
  const scroll = el("div", { class: "table-scroll" });
  const table = el("table", { id: "table-" + i });
  scroll.appendChild(table);
  block.appendChild(scroll);
  const pager = el("div", { class: "pager", id: "pager-" + i });
  block.appendChild(pager);
  if (vt.legend && vt.highlight.length) {
    const legend = el("p", { class: "legend" });
    legend.appendChild(el("span", { class: "swatch" }));
    legend.appendChild(document.createTextNode(vt.legend));
    block.appendChild(legend);
  }
  $("tables").appendChild(block);
  const hl = new Set(vt.highlight);
  const hidden = new Set(vt.hidden);
  const key = t.headers.findIndex((_, c) => !hidden.has(c));
  const ts = { vt, table, pager, hidden, key, rows: t.rows.map((cells, r) => ({ cells, hl: hl.has(r) })), shown: [], sort: null, page: 0, all: false };
  ts.shown = ts.rows;
  state.tables.push(ts);
  search.addEventListener("input", () => { filterRows(ts, search.value.trim()); });
  drawRows(ts);
}

function cellText(cell) { return typeof cell === "number" ? String(cell) : cell; }

function filterRows(ts, text) {
  ts.shown = text ? ts.rows.filter((r) => r.cells.some((c) => cellText(c).includes(text))) : ts.rows;
  sortRows(ts);
  ts.page = 0;
  drawRows(ts);
}

function sortRows(ts) {
  if (!ts.sort) return;
  const { col, dir } = ts.sort;
  ts.shown = ts.shown.slice().sort((a, b) => {
    const x = a.cells[col], y = b.cells[col];
    const d = typeof x === "number" && typeof y === "number" ? x - y : cellText(x).localeCompare(cellText(y), "zh-CN");
    return d * dir;
  });
}

function headerRow(ts) {
  const head = el("tr");
  ts.vt.table.headers.forEach((name, c) => {
    const th = el("th", { scope: "col" });
    if (typeof (ts.rows[0] || { cells: [] }).cells[c] === "number") th.classList.add("num");
    if (ts.hidden.has(c)) th.hidden = true;
    if (c === ts.key) th.classList.add("key");
    const b = el("button", { type: "button", class: "sort", title: "按此列排序" }, name);
    if (ts.sort && ts.sort.col === c) b.dataset.dir = ts.sort.dir > 0 ? "升序" : "降序";
    b.addEventListener("click", () => {
      const dir = ts.sort && ts.sort.col === c ? -ts.sort.dir : (typeof (ts.rows[0] || { cells: [] }).cells[c] === "number" ? -1 : 1);
      ts.sort = { col: c, dir };
      sortRows(ts);
      ts.page = 0;
      drawRows(ts);
    });
    th.appendChild(b);
    head.appendChild(th);
  });
  return head;
}

function cellElement(ts, row, c) {
  const cell = row.cells[c];
  const td = el("td", typeof cell === "number" ? { class: "num" } : {});
  // Long text (lists of kinds, of subjects) wraps rather than pushing the answers off-screen.
  if (typeof cell === "string" && cell.length > 16) td.classList.add("long");
  if (ts.hidden.has(c)) td.hidden = true;
  if (c === ts.key) td.classList.add("key");
  const link = ts.vt.links.find((l) => l.column === c);
  const value = link ? cellText(row.cells[link.key]) : "";
  if (link && value !== "" && cellText(cell) !== "") {
    const q = new URLSearchParams(link.extra);
    q.set(link.param, value);
    if (state.semester) q.set("semester", state.semester);
    td.appendChild(el("a", { href: "#/" + link.page + "?" + q.toString() }, cellText(cell)));
  } else {
    td.textContent = cellText(cell);
  }
  return td;
}

function drawRows(ts) {
  const pages = Math.max(1, Math.ceil(ts.shown.length / PAGE_SIZE));
  ts.page = Math.min(ts.page, pages - 1);
  const rows = ts.all ? ts.shown : ts.shown.slice(ts.page * PAGE_SIZE, (ts.page + 1) * PAGE_SIZE);
  const thead = el("thead");
  thead.appendChild(headerRow(ts));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr", row.hl ? { class: "highlight" } : {});
    row.cells.forEach((_, c) => tr.appendChild(cellElement(ts, row, c)));
    body.appendChild(tr);
  }
  if (rows.length === 0) {
    const tr = el("tr", { class: "empty" });
    tr.appendChild(el("td", { colspan: String(ts.vt.table.headers.length - ts.hidden.size) }, "暂无数据"));
    body.appendChild(tr);
  }
  ts.table.replaceChildren(thead, body);
  drawPager(ts, pages);
}

function drawPager(ts, pages) {
  ts.pager.replaceChildren();
  ts.pager.appendChild(el("span", { class: "count" }, "共 " + ts.shown.length + " 行" + (pages > 1 ? "，第 " + (ts.page + 1) + " / " + pages + " 页" : "")));
  if (pages <= 1) return;
  const button = (label, cls, to, disabled) => {
    const b = el("button", { type: "button", class: cls }, label);
    b.disabled = disabled;
    b.addEventListener("click", () => { ts.page = to; drawRows(ts); });
    ts.pager.appendChild(b);
  };
  button("上一页", "prev", ts.page - 1, ts.page === 0);
  button("下一页", "next", ts.page + 1, ts.page >= pages - 1);
}

// Printing shows every row of every table (the screen shows a page at a time).
function printAll(all) {
  for (const ts of state.tables) { ts.all = all; drawRows(ts); }
  for (const c of state.charts) c.resize();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("menu-toggle").addEventListener("click", () => document.body.classList.toggle("menu-open"));
  // The page already shown, clicked again in the menu, is asked for afresh.
  for (const a of document.querySelectorAll("#nav a")) {
    a.addEventListener("click", (e) => {
      if (location.hash === a.getAttribute("href")) { e.preventDefault(); route(); }
    });
  }
  $("semester").addEventListener("change", (e) => {
    state.semester = e.target.value;
    const { page, params } = parseRoute();
    params.set("semester", state.semester);
    go(page, params);
  });
  $("school-select").addEventListener("change", (e) => {
    if (e.target.value) go("school", new URLSearchParams({ school: e.target.value, semester: state.semester }));
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", () => { for (const c of state.charts) c.resize(); });
  // Charts lay out their labels for the screen's width: redraw when it crosses the phone's.
  PHONE.addEventListener("change", route);
  window.addEventListener("beforeprint", () => printAll(true));
  window.addEventListener("afterprint", () => printAll(false));
  start();
});
