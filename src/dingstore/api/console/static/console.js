// dingstore console: uploads (button, folder, drag and drop; progress; multipart; cancel),
// live task progress by server-sent events, and local times. No inline script anywhere: the
// Content-Security-Policy allows only /console/static.
"use strict";
(function () {
  const csrf = () => document.body.dataset.csrf || "";

  async function post(url, body) {
    const r = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.message || "The server refused (" + r.status + ").");
    return data;
  }

  // PUT bytes to a transfer target, reporting progress; resolves on 2xx.
  function put(target, blob, onProgress, job) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      job.requests.add(x);
      x.open("PUT", target.url);
      for (const [k, v] of Object.entries(target.headers || {})) x.setRequestHeader(k, v);
      x.upload.onprogress = (e) => onProgress(e.loaded);
      x.onload = () => {
        job.requests.delete(x);
        if (x.status >= 200 && x.status < 300) resolve(x);
        else reject(new Error("Storing the bytes failed (" + x.status + ")."));
      };
      x.onerror = () => { job.requests.delete(x); reject(new Error("The connection failed.")); };
      x.onabort = () => { job.requests.delete(x); reject(new Error("Cancelled.")); };
      x.send(blob);
    });
  }

  function uploader(root) {
    const space = root.dataset.space, parent = root.dataset.parent;
    const panel = document.getElementById("uploads");
    const list = document.getElementById("upload-list");
    const overall = document.getElementById("overall");
    const overallText = document.getElementById("overall-text");
    const job = { requests: new Set(), cancelled: false, total: 0, sent: new Map() };

    function update() {
      let sent = 0;
      for (const v of job.sent.values()) sent += v;
      const pct = job.total ? Math.floor((sent * 100) / job.total) : 100;
      overall.value = pct;
      overallText.textContent = pct + "%";
    }

    async function one(entry) {
      const { file, path } = entry;
      const li = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = path;
      const bar = document.createElement("progress");
      bar.max = 100; bar.value = 0;
      bar.setAttribute("aria-label", path + " progress");
      const state = document.createElement("span");
      state.className = "state";
      li.append(label, bar, state);
      list.append(li);
      const progress = (n) => {
        job.sent.set(entry, n);
        bar.value = file.size ? Math.floor((n * 100) / file.size) : 100;
        update();
      };
      try {
        if (job.cancelled) throw new Error("Cancelled.");
        const t = await post("/console/s/" + space + "/uploads", { parentId: parent, path, size: file.size });
        if (t.parts) {
          // three parts in flight at a time; each part's bytes counted as they go
          const sent = new Map();
          const total = () => { let n = 0; for (const v of sent.values()) n += v; return n; };
          const queue = t.parts.slice();
          const lane = async () => {
            while (queue.length) {
              if (job.cancelled) throw new Error("Cancelled.");
              const part = queue.shift();
              const start = (part.number - 1) * t.partSize;
              const chunk = file.slice(start, Math.min(file.size, start + t.partSize));
              await put(part, chunk, (n) => { sent.set(part.number, n); progress(total()); }, job);
              sent.set(part.number, chunk.size);
            }
          };
          await Promise.all([lane(), lane(), lane()]);
        } else {
          await put(t, file, progress, job);
        }
        progress(file.size);
        await post("/console/s/" + space + "/commits", { uploadKey: t.uploadKey, parentId: t.parentId, name: t.name, size: file.size });
        state.textContent = "Done";
        li.dataset.state = "done";
      } catch (e) {
        state.textContent = e.message;
        li.dataset.state = "failed";
        job.failed = true;
      }
    }

    async function start(entries) {
      if (!entries.length) return;
      panel.hidden = false;
      list.textContent = "";
      job.cancelled = false; job.failed = false; job.sent.clear();
      job.total = entries.reduce((n, e) => n + e.file.size, 0);
      update();
      const queue = entries.slice();
      const workers = [];
      for (let i = 0; i < 3; i++) {
        workers.push((async () => { while (queue.length) await one(queue.shift()); })());
      }
      await Promise.all(workers);
      panel.dataset.state = job.cancelled ? "cancelled" : job.failed ? "failed" : "done";
      overallText.textContent = job.cancelled ? "Cancelled" : job.failed ? "Some files failed" : "All done";
      if (!job.cancelled && !job.failed) setTimeout(() => window.location.reload(), 600);
    }

    const fromFiles = (files) => Array.from(files).map((f) => ({ file: f, path: f.webkitRelativePath || f.name }));
    document.getElementById("upload-files").addEventListener("change", (e) => start(fromFiles(e.target.files)));
    document.getElementById("upload-folder").addEventListener("change", (e) => start(fromFiles(e.target.files)));
    document.getElementById("upload-cancel").addEventListener("click", () => {
      job.cancelled = true;
      for (const x of job.requests) x.abort();
    });

    // Drag and drop, folders included (walked through the entries API).
    const drop = document.getElementById("drop");
    function walk(entry, prefix, out) {
      return new Promise((resolve) => {
        if (entry.isFile) {
          entry.file((f) => { out.push({ file: f, path: prefix + f.name }); resolve(); }, () => resolve());
        } else if (entry.isDirectory) {
          const reader = entry.createReader();
          const all = [];
          const more = () => reader.readEntries(async (batch) => {
            if (!batch.length) {
              for (const e of all) await walk(e, prefix + entry.name + "/", out);
              resolve();
            } else { all.push(...batch); more(); }
          }, () => resolve());
          more();
        } else resolve();
      });
    }
    document.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    document.addEventListener("dragleave", () => drop.classList.remove("over"));
    document.addEventListener("drop", async (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      const out = [];
      const items = Array.from(e.dataTransfer.items || []);
      const entries = items.map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
      if (entries.length) { for (const en of entries) await walk(en, "", out); }
      else out.push(...fromFiles(e.dataTransfer.files));
      start(out);
    });
  }

  function liveTasks(list) {
    const ids = Array.from(list.querySelectorAll("[data-task]"))
      .filter((li) => li.dataset.status !== "SUCCESS" && li.dataset.status !== "FAIL")
      .map((li) => li.dataset.task);
    if (!ids.length) return;
    const source = new EventSource("/console/live/tasks?ids=" + ids.join(","));
    source.addEventListener("task", (e) => {
      const t = JSON.parse(e.data);
      const li = list.querySelector('[data-task="' + t.id + '"]');
      if (!li) return;
      li.dataset.status = t.status;
      li.querySelector("progress").value = t.percent;
      const total = t.total === null ? "?" : t.total;
      li.querySelector(".status").textContent =
        t.status === "SUCCESS" ? "SUCCESS: " + t.success + " of " + total + " done"
        : t.status === "FAIL" ? "FAILED: " + (t.message || "the task failed") + " (" + t.success + " done, " + t.fail + " failed)"
        : t.status + ": " + t.percent + "% (" + t.success + " of " + total + ")";
    });
    source.addEventListener("done", () => source.close());
  }

  function localTimes() {
    for (const t of document.querySelectorAll("time[data-ms]")) {
      const d = new Date(Number(t.dataset.ms));
      t.dateTime = d.toISOString();
      t.textContent = d.toLocaleString();
    }
  }

  // What cannot be undone asks first.
  document.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  // A form that goes somewhere by GET (Copy to…, Move to…) leaves its CSRF token out of the URL.
  document.addEventListener("submit", (e) => {
    const method = (e.submitter && e.submitter.getAttribute("formmethod")) || e.target.method;
    if (method && method.toLowerCase() === "get") {
      for (const input of e.target.querySelectorAll('input[name="csrf"]')) input.disabled = true;
      setTimeout(() => { for (const input of e.target.querySelectorAll('input[name="csrf"]')) input.disabled = false; }, 0);
    }
  });

  function init() {
    const up = document.getElementById("upload");
    if (up) uploader(up);
    const tasks = document.getElementById("tasks");
    if (tasks) liveTasks(tasks);
    localTimes();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
