/*
 * dlnotes Run buttons under `mkdocs serve`: turns each <span class="dl-run"> marker
 * (after a runnable block) into a toolbar (运行 / 编辑 / 重置 / 中断 / 重启内核) and an
 * output area that fills as the page's kernel streams. Needs api.js first.
 */
(function () {
  "use strict";
  var cfg = window.__dlnotes__;
  if (!cfg || !cfg.run) return;
  var run = cfg.run;
  var STATUS = {
    queued: "排队中…", running: "运行中…", ok: "完成", error: "出错",
    timeout: "超时，已中断", interrupted: "已中断", cancelled: "已取消",
    died: "内核退出，已重启", failed: "失败"
  };
  var api = cfg.api;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function btn(text, action, title) {
    var b = el("button", "dl-btn", text);
    b.type = "button";
    b.setAttribute("data-dl-action", action);
    if (title) b.title = title;
    return b;
  }
  document.querySelectorAll("span.dl-run[data-dl-block]").forEach(function (marker) {
    var index = marker.getAttribute("data-dl-block");
    var info = run.blocks[index];
    var holder = marker.parentElement;
    var codeBlock = holder && holder.previousElementSibling;
    if (!info || !codeBlock || !codeBlock.querySelector("pre")) return;
    var panel = el("div", "dl-runner");
    panel.setAttribute("data-dl-block", index);
    var bar = el("div", "dl-run-bar");
    var runBtn = btn("▶ 运行", "run", "运行这段代码（Shift+Enter）");
    var editBtn = btn("编辑", "edit", "在页面上修改这段代码");
    var resetBtn = btn("重置", "reset", "恢复成页面上的代码");
    var stopBtn = btn("中断", "interrupt", "中断本页内核正在运行的代码");
    var restartBtn = btn("重启内核", "restart", "重启本页的内核，清空所有变量");
    var status = el("span", "dl-run-status");
    resetBtn.hidden = true;
    stopBtn.disabled = true;
    [runBtn, editBtn, resetBtn, stopBtn, restartBtn, status].forEach(function (b) {
      bar.appendChild(b);
    });
    panel.appendChild(bar);
    if (info.setup) {
      var details = el("details", "dl-setup");
      details.appendChild(el("summary", "", "运行前自动执行的导入"));
      details.appendChild(el("pre", "", info.setup));
      panel.appendChild(details);
    }
    var output = el("div", "dl-output");
    output.hidden = true;
    panel.appendChild(output);
    holder.replaceWith(panel);
    // The output the site build produced sits right after the toolbar (a page's
    // dlnotes-outputs block, a lab's notebook cell outputs); running the block
    // replaces it with the live output.
    var staticOutput = panel.nextElementSibling;
    var ownOutput = staticOutput && (
      (staticOutput.classList.contains("dl-static-output") &&
        staticOutput.getAttribute("data-dl-block") === index) ||
      staticOutput.classList.contains("jp-Cell-outputWrapper"));
    if (!ownOutput) staticOutput = null;

    var editor = null;
    function currentCode() { return editor ? editor.value : info.code; }
    function setStatus(text, cls) {
      status.textContent = text;
      status.className = "dl-run-status" + (cls ? " " + cls : "");
    }
    function openEditor() {
      if (editor) { editor.focus(); return; }
      editor = el("textarea", "dl-editor");
      editor.value = info.code;
      editor.spellcheck = false;
      editor.rows = Math.min(40, info.code.split("\n").length + 1);
      editor.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && (e.shiftKey || e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          start();
        } else if (e.key === "Tab" && !e.shiftKey) {
          e.preventDefault();
          var s = editor.selectionStart, t = editor.selectionEnd;
          editor.value = editor.value.slice(0, s) + "    " + editor.value.slice(t);
          editor.selectionStart = editor.selectionEnd = s + 4;
        }
      });
      codeBlock.hidden = true;
      codeBlock.parentNode.insertBefore(editor, codeBlock.nextSibling);
      editBtn.hidden = true;
      resetBtn.hidden = false;
      editor.focus();
    }
    function reset() {
      if (editor) editor.remove();
      editor = null;
      codeBlock.hidden = false;
      editBtn.hidden = false;
      resetBtn.hidden = true;
    }
    var lastStream = null;
    function render(ev) {
      output.hidden = false;
      if (ev.type === "clear") { output.textContent = ""; lastStream = null; return; }
      if (ev.type === "stream") {
        if (!lastStream || lastStream.getAttribute("data-name") !== ev.name) {
          lastStream = el("pre", "dl-stream dl-" + ev.name);
          lastStream.setAttribute("data-name", ev.name);
          output.appendChild(lastStream);
        }
        lastStream.textContent += ev.text;
        return;
      }
      lastStream = null;
      if (ev.type === "result" || ev.type === "display") {
        if (ev.png) {
          var img = el("img", "dl-figure");
          img.alt = "运行结果（图像）";
          img.src = "data:image/png;base64," + ev.png;
          output.appendChild(img);
        } else if (ev.text !== undefined) {
          output.appendChild(el("pre", "dl-" + ev.type, ev.text));
        }
      } else if (ev.type === "error") {
        output.appendChild(el("pre", "dl-traceback", ev.traceback));
      } else if (ev.type === "info") {
        output.appendChild(el("div", "dl-info", ev.text));
      }
    }
    function busy(on) {
      runBtn.disabled = on;
      stopBtn.disabled = !on;
      panel.classList.toggle("dl-running", on);
    }
    function poll(id, since) {
      api({action: "poll", run: id, since: since}).then(function (d) {
        if (!d.ok) { busy(false); setStatus("失败：" + d.error, "dl-error"); return; }
        d.events.forEach(render);
        if (d.done) {
          busy(false);
          var text = STATUS[d.status] || d.status;
          if (d.status === "ok" && d.count) text += " [" + d.count + "]";
          setStatus(text, d.status === "ok" ? "dl-ok" : "dl-error");
          panel.setAttribute("data-dl-status", d.status);
        } else {
          setStatus(STATUS[d.status] || d.status);
          poll(id, d.next);
        }
      });
    }
    function start() {
      if (runBtn.disabled) return;
      if (staticOutput) { staticOutput.remove(); staticOutput = null; }
      output.textContent = "";
      output.hidden = true;
      lastStream = null;
      busy(true);
      setStatus(STATUS.queued);
      panel.setAttribute("data-dl-status", "queued");
      api({action: "run", page: run.page, block: +index, code: currentCode()})
        .then(function (d) {
          if (!d.ok) { busy(false); setStatus("失败：" + d.error, "dl-error"); return; }
          poll(d.run, 0);
        });
    }
    runBtn.addEventListener("click", start);
    editBtn.addEventListener("click", openEditor);
    resetBtn.addEventListener("click", reset);
    stopBtn.addEventListener("click", function () {
      api({action: "interrupt", page: run.page});
    });
    restartBtn.addEventListener("click", function () {
      api({action: "restart", page: run.page}).then(function (d) {
        document.querySelectorAll(".dl-runner").forEach(function (p) {
          var s = p.querySelector(".dl-run-status");
          if (s && !p.classList.contains("dl-running")) s.textContent = "";
        });
        setStatus(d.ok ? "内核已重启，变量已清空" : "失败：" + d.error,
                  d.ok ? "" : "dl-error");
      });
    });
  });
})();
