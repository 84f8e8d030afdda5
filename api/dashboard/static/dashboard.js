// Ironworks dashboard: keeps marked parts of a page live. No framework, no build step.
"use strict";

// <div data-live-url="..." data-live-every="2000">: re-fetched and swapped in place until the
// fetched part says it is final (data-final on its first element).
function keepLive(element) {
  const every = Number(element.dataset.liveEvery || 2000);
  const refresh = async () => {
    if (element.querySelector("[data-final]")) return;
    try {
      const response = await fetch(element.dataset.liveUrl, { credentials: "same-origin" });
      if (response.ok) element.innerHTML = await response.text();
    } catch (error) {
      // The server is restarting or the network blinked: try again on the next tick.
    }
    setTimeout(refresh, every);
  };
  setTimeout(refresh, every);
}

// <pre data-stream-url="..." data-full-url="...">: the task's log, appended as it is written,
// following the end unless the reader has scrolled up; the whole log once the task ends.
function tailLog(pre) {
  const box = pre.closest(".log-box") || pre;
  const atEnd = () => box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  const follow = (append) => {
    const wasAtEnd = atEnd();
    append();
    if (wasAtEnd) box.scrollTop = box.scrollHeight;
  };
  const status = document.getElementById("log-status");
  const stream = new EventSource(pre.dataset.streamUrl);
  stream.onmessage = (event) => follow(() => pre.append(event.data));
  stream.addEventListener("end", async () => {
    stream.close();
    const response = await fetch(pre.dataset.fullUrl, { credentials: "same-origin" });
    if (response.ok) {
      const text = await response.text();
      follow(() => { pre.textContent = text; });
    }
    if (status) status.textContent = "Task ended; this is the whole log.";
  });
  stream.onerror = () => {
    if (status) status.textContent = "Reconnecting…";
  };
  stream.onopen = () => {
    if (status) status.textContent = "Live";
  };
}

document.querySelectorAll("[data-live-url]").forEach(keepLive);
document.querySelectorAll("pre[data-stream-url]").forEach(tailLog);
