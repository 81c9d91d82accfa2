//! A small W3C WebDriver client for the browser test: Debian's `chromedriver`
//! driving headless `chromium`, spoken to over plain HTTP/1.1 on loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C key under which an element reference comes back.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver with one browser session.
pub(crate) struct Browser {
    port: u16,
    session: String,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(self.port, "DELETE", &format!("/session/{}", self.session), None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9515)
}

/// One HTTP request; the answer's JSON (`Connection: close`, so the body ends at EOF).
fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect chromedriver: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(120))).map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes())).map_err(|e| e.to_string())?;
    // chromedriver answers `Connection: close` but may keep the socket open: read the
    // header, then exactly Content-Length bytes (or chunks, or to EOF without either).
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).map_err(|e| format!("read chromedriver: {e}"))?;
        if n == 0 {
            return Err("chromedriver closed before the header ended".into());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let headers = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut payload = raw[split + 4..].to_vec();
    let length = headers
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == "content-length")
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    match length {
        Some(len) => {
            while payload.len() < len {
                let n = s.read(&mut buf).map_err(|e| format!("read chromedriver: {e}"))?;
                if n == 0 {
                    return Err("chromedriver closed mid-body".into());
                }
                payload.extend_from_slice(&buf[..n]);
            }
            payload.truncate(len);
        }
        None => {
            s.read_to_end(&mut payload).map_err(|e| format!("read chromedriver: {e}"))?;
            if headers.contains("transfer-encoding: chunked") {
                payload = dechunk(&payload)?;
            }
        }
    }
    let v: Value = serde_json::from_slice(&payload).map_err(|e| {
        format!("chromedriver answer is not JSON ({e}): {}", String::from_utf8_lossy(&payload))
    })?;
    if let Some(err) = v["value"]["error"].as_str() {
        return Err(format!("{err}: {}", v["value"]["message"].as_str().unwrap_or("")));
    }
    Ok(v)
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").ok_or("bad chunk")?;
        let size_text = String::from_utf8_lossy(&b[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("chunk size: {e}"))?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(b.get(..size).ok_or("short chunk")?);
        b = b.get(size + 2..).ok_or("short chunk")?;
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium that accepts the county CA's
    /// (self-signed) hub certificate and logs every network request.
    pub(crate) fn start(chromium: &str, chromedriver: &str) -> Result<Browser, String> {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start {chromedriver}: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(v) = request(port, "GET", "/status", None)
                && v["value"]["ready"].as_bool() == Some(true)
            {
                break;
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not become ready in 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:loggingPrefs": { "performance": "ALL" },
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000", "--lang=zh-CN", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-default-apps", "--disable-sync"],
            },
        }}});
        let mut browser = Browser { port, session: String::new(), driver };
        let v = request(port, "POST", "/session", Some(&caps))?;
        browser.session = v["value"]["sessionId"].as_str().ok_or("no session id")?.to_owned();
        Ok(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let v = request(self.port, method, &format!("/session/{}{path}", self.session), body.as_ref())?;
        Ok(v["value"].clone())
    }

    /// Opens `url`.
    pub(crate) fn goto(&self, url: &str) -> Result<(), String> {
        self.call("POST", "/url", Some(json!({ "url": url }))).map(|_| ())
    }

    /// Runs `script` (a function body) with `args`; its return value.
    pub(crate) fn js(&self, script: &str, args: Value) -> Result<Value, String> {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// Runs an async `script` whose last argument is the callback to call with the result.
    pub(crate) fn js_async(&self, script: &str, args: Value) -> Result<Value, String> {
        self.call("POST", "/execute/async", Some(json!({ "script": script, "args": args })))
    }

    fn element(&self, css: &str) -> Result<String, String> {
        let v = self.call("POST", "/element", Some(json!({ "using": "css selector", "value": css })))?;
        v[ELEMENT].as_str().map(str::to_owned).ok_or_else(|| format!("no element {css}"))
    }

    /// Types `text` into the element `css` names.
    pub(crate) fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let id = self.element(css)?;
        self.call("POST", &format!("/element/{id}/clear"), Some(json!({})))?;
        self.call("POST", &format!("/element/{id}/value"), Some(json!({ "text": text }))).map(|_| ())
    }

    /// Clicks the element `css` names.
    pub(crate) fn click(&self, css: &str) -> Result<(), String> {
        let id = self.element(css)?;
        self.call("POST", &format!("/element/{id}/click"), Some(json!({}))).map(|_| ())
    }

    /// Waits until `script` returns something truthy; that value.
    pub(crate) fn wait_for(&self, what: &str, script: &str) -> Result<Value, String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.js(script, json!([]))?;
            let truthy = !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0));
            if truthy {
                return Ok(v);
            }
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The cookie `name` of the current page's site, HttpOnly ones included (null if none).
    pub(crate) fn cookie(&self, name: &str) -> Result<Value, String> {
        match self.call("GET", &format!("/cookie/{name}"), None) {
            Ok(v) => Ok(v),
            Err(e) if e.starts_with("no such cookie") => Ok(Value::Null),
            Err(e) => Err(e),
        }
    }

    /// Sets `cookie` (as [`Browser::cookie`] returned it) on the current page's site.
    pub(crate) fn add_cookie(&self, cookie: &Value) -> Result<(), String> {
        self.call("POST", "/cookie", Some(json!({ "cookie": cookie }))).map(|_| ())
    }

    /// Makes the page's viewport `width` x `height` CSS pixels (a phone's when narrow:
    /// the page's `<meta name=viewport>` then applies), through Chrome's DevTools protocol.
    pub(crate) fn viewport(&self, width: u32, height: u32) -> Result<(), String> {
        let params =
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700 });
        let body = json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": params });
        self.call("POST", "/goog/cdp/execute", Some(body)).map(|_| ())
    }

    /// Shows the page as for `media` (`print`, or empty for the screen again).
    pub(crate) fn media(&self, media: &str) -> Result<(), String> {
        let body = json!({ "cmd": "Emulation.setEmulatedMedia", "params": { "media": media } });
        self.call("POST", "/goog/cdp/execute", Some(body)).map(|_| ())
    }

    /// A PNG of the viewport.
    pub(crate) fn screenshot(&self) -> Result<Vec<u8>, String> {
        use base64::Engine as _;
        let v = self.call("GET", "/screenshot", None)?;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().ok_or("screenshot is not a string")?)
            .map_err(|e| e.to_string())
    }

    /// Every URL the browser has requested since the last call (Chrome's performance log).
    pub(crate) fn requested_urls(&self) -> Result<Vec<String>, String> {
        let v = self.call("POST", "/se/log", Some(json!({ "type": "performance" })))?;
        let mut urls = Vec::new();
        for entry in v.as_array().into_iter().flatten() {
            let Some(msg) = entry["message"].as_str() else { continue };
            let Ok(m) = serde_json::from_str::<Value>(msg) else { continue };
            if m["message"]["method"] == "Network.requestWillBeSent"
                && let Some(url) = m["message"]["params"]["request"]["url"].as_str()
            {
                urls.push(url.to_owned());
            }
        }
        Ok(urls)
    }
}
