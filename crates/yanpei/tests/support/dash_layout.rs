//! Every page as a role sees it, on a desktop (1440×900) and a phone (390×844): saved as
//! screenshots; no visible text is a code (`^[a-z_]+$`, an ISO week `2024-W35`, a school
//! or alliance code like `CGZ1`, `A1`); on the phone nothing sticks out of the screen
//! sideways except inside a table's own scrolling box.

use serde_json::json;

use super::dash_roles::drawn;
use super::webdriver::Browser;
use super::{SEMESTER, save};

/// The visible texts that are codes, and on a phone the elements wider than the screen.
const CHECK: &str = r#"
const codes = [/^[a-z_]+$/, /^\d{4}-W\d{2}$/, /^[A-Z]{1,4}\d{1,2}([A-Z]\d)?$/];
const visible = e => e && (e.checkVisibility ? e.checkVisibility() : e.getClientRects().length > 0);
const texts = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const t = walker.currentNode.textContent.trim();
  const p = walker.currentNode.parentElement;
  if (t && p && p.tagName !== 'OPTION' && p.tagName !== 'SCRIPT' && visible(p)) texts.push(t);
}
for (const s of document.querySelectorAll('select')) if (visible(s) && s.selectedIndex >= 0) texts.push(s.options[s.selectedIndex].text.trim());
const bad = texts.filter(t => codes.some(r => r.test(t)));
// The screen's width: a phone zooms out to show a page wider than it, widening innerWidth.
const width = arguments[0];
const over = [];
for (const e of document.querySelectorAll('body *')) {
  if (!visible(e)) continue;
  // Inside a table's box that really scrolls sideways, a row may be wider than the screen.
  const box = e.parentElement && e.parentElement.closest('.table-scroll');
  if (box && ['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) continue;
  const r = e.getBoundingClientRect();
  if (r.width > 0 && (r.right > width + 1 || r.left < -1)) over.push(e.tagName + '#' + e.id + '.' + e.className + ' [' + Math.round(r.left) + ', ' + Math.round(r.right) + ']');
}
return { bad, over: over.slice(0, 10), scroll: document.documentElement.scrollWidth, width, inner: innerWidth, texts: texts.length };
"#;

/// Opens every page in `pages` (name, route) at both sizes, checks and saves each.
pub(crate) fn every_page(b: &Browser, role: &str, pages: &[(&str, &str)]) {
    for (width, height, size) in [(1440, 900, "desktop"), (390, 844, "phone")] {
        let before = drawn(b);
        let was_phone = b.js("return matchMedia('(max-width: 700px)').matches;", json!([])).expect("media");
        b.viewport(width, height).expect("set the viewport");
        let phone = width < 700;
        let is_phone = b.js("return matchMedia('(max-width: 700px)').matches;", json!([])).expect("media");
        if was_phone != is_phone {
            // The page redraws its charts for the new width.
            b.wait_for(
                "the redraw for the new width",
                &format!("return Number(document.getElementById('page').dataset.drawn) > {before};"),
            )
            .expect("redrawn");
        }
        if !phone {
            let inner = b.js("return [innerWidth, innerHeight];", json!([])).expect("the viewport");
            assert_eq!(inner, json!([width, height]), "the viewport is {width}×{height}");
        }
        for (page, route) in pages {
            let before = drawn(b);
            let hash = format!("#/{route}{}semester={SEMESTER}", if route.contains('?') { "&" } else { "?" });
            b.js("location.hash = arguments[0];", json!([hash])).expect("navigate");
            let script = format!(
                "const p = document.getElementById('page'); \
                 return p.dataset.page === '{page}' && Number(p.dataset.drawn) > {before};"
            );
            b.wait_for(&format!("{role} {page} {size}"), &script).expect("page drawn");
            let title =
                b.js("return document.getElementById('title').textContent;", json!([])).expect("title");
            assert!(
                title.as_str().is_some_and(|t| !t.is_empty() && t != "无法显示" && t != "无权查看"),
                "{role} {page}: {title}"
            );
            let found = b.js(CHECK, json!([width])).expect("check the page");
            assert_eq!(found["bad"], json!([]), "{role} {page} {size}: codes on screen");
            assert!(found["texts"].as_u64().unwrap_or(0) > 5, "{role} {page} {size}: the page shows text");
            if phone {
                assert_eq!(found["over"], json!([]), "{role} {page} {size}: wider than the screen");
                assert!(
                    found["scroll"] == found["width"],
                    "{role} {page} {size}: the page scrolls sideways: {found}"
                );
            }
            save(b, &format!("{role}-{page}-{size}"));
            // And its first table, where the answers are.
            let table = b
                .js(
                    "const t = document.querySelector('.table-block'); \
                     if (t) t.scrollIntoView(); return !!t;",
                    json!([]),
                )
                .expect("scroll to the first table");
            if table == json!(true) {
                save(b, &format!("{role}-{page}-{size}-table"));
            }
            b.js("window.scrollTo(0, 0);", json!([])).expect("back to the top");
        }
    }
    b.viewport(1440, 900).expect("back to the desktop");
}

/// The page as printed for the 教育局: no menu, filters, search or buttons; tables unclipped.
pub(crate) fn printed(b: &Browser, name: &str) {
    b.media("print").expect("print media");
    let shown = b
        .js(
            "const shown = s => Array.from(document.querySelectorAll(s)).some(e => e.checkVisibility()); \
             return {menu: shown('header'), filters: shown('.filters select'), search: shown('.search'), \
               buttons: shown('.pager button'), tables: shown('table'), \
               clipped: Array.from(document.querySelectorAll('.table-scroll')).some(e => getComputedStyle(e).overflowX !== 'visible')};",
            json!([]),
        )
        .expect("the printed page");
    assert_eq!(
        shown,
        json!({"menu": false, "filters": false, "search": false, "buttons": false, "tables": true, "clipped": false}),
        "printed {name}"
    );
    save(b, &format!("print-{name}"));
    b.media("").expect("screen media");
}
