/*
 * The 复习 page under `mkdocs serve`: a review session in the browser.
 *
 * Asks the endpoint for the due cards (`review-due`), shows a question, reveals the
 * answer, and sends the grade (`review-grade`), which goes through the same code as
 * `dlnotes review`: the new schedule is written on the question's line in the note.
 * The rebuild that follows reloads the page; it then starts at the next due card.
 * Needs api.js first.
 */
(function () {
  "use strict";
  var cfg = window.__dlnotes__;
  var root = document.getElementById("dl-review");
  if (!cfg || !cfg.review || !root) return;
  var GRADES = [["again", "重来", "1"], ["hard", "困难", "2"], ["good", "良好", "3"],
    ["easy", "简单", "4"]];
  var cards = [];
  var index = 0;
  var revealed = false;
  var box = document.createElement("div");
  box.className = "dl-review-card";
  var status = document.createElement("p");
  status.className = "dl-review-status";
  root.appendChild(box);
  root.appendChild(status);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }
  function button(text, action) {
    var b = el("button", "dl-btn", text);
    b.type = "button";
    b.setAttribute("data-dl-action", action);
    return b;
  }
  function typeset(node) {
    if (window.MathJax && window.MathJax.typesetPromise) {
      window.MathJax.typesetPromise([node]).catch(function () {});
    }
  }
  function message(text, error) {
    status.textContent = text;
    status.className = "dl-review-status dl-msg" + (error ? " dl-error" : "");
    return status;
  }
  function show() {
    box.textContent = "";
    if (index >= cards.length) {
      box.textContent = cards.length ? "这一轮的卡片复习完了。" : "现在没有到期的卡片。";
      return;
    }
    var card = cards[index];
    revealed = false;
    var head = el("p", "dl-review-head");
    head.textContent = "第 " + (index + 1) + " / " + cards.length + " 张 · " +
      (card.new ? "新卡片" : "复习") + " · " + card.id + " · " + card.page;
    box.appendChild(head);
    var question = el("div", "dl-review-question");
    question.innerHTML = card.question;  // sanitised by the server (nh3)
    box.appendChild(question);
    var reveal = button("显示答案（空格）", "reveal");
    box.appendChild(reveal);
    reveal.addEventListener("click", function () { showAnswer(card, reveal); });
    typeset(question);
  }
  function showAnswer(card, reveal) {
    if (revealed) return;
    revealed = true;
    reveal.remove();
    var answer = el("div", "dl-review-answer");
    answer.innerHTML = card.answer;  // sanitised by the server (nh3)
    box.appendChild(answer);
    var bar = el("p", "dl-review-grades");
    GRADES.forEach(function (g) {
      var b = button(g[1] + "（" + g[2] + "）", g[0]);
      b.addEventListener("click", function () { grade(card, g[0], bar); });
      bar.appendChild(b);
    });
    box.appendChild(bar);
    typeset(answer);
  }
  function grade(card, value, bar) {
    bar.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    cfg.api({action: "review-grade", id: card.id, grade: value}).then(function (data) {
      if (!data.ok) {
        message("失败：" + (data.error || "未知错误"), true);
        bar.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
        return;
      }
      var when = data.days <= 0 ? "今天" : data.days === 1 ? "明天" : data.days + " 天后";
      message("已保存：下次 " + data.due + "（" + when + "）").setAttribute(
        "data-dl-graded", card.id);
      index += 1;
      setTimeout(show, 600);
    });
  }
  document.addEventListener("keydown", function (event) {
    if (event.target && /^(TEXTAREA|INPUT)$/.test(event.target.tagName)) return;
    var reveal = root.querySelector('[data-dl-action="reveal"]');
    if (event.key === " " && reveal) { event.preventDefault(); reveal.click(); return; }
    GRADES.forEach(function (g) {
      var b = root.querySelector('[data-dl-action="' + g[0] + '"]');
      if (event.key === g[2] && b && !b.disabled) b.click();
    });
  });
  cfg.api({action: "review-due"}).then(function (data) {
    if (!data.ok) { message("读取到期的卡片失败：" + (data.error || ""), true); return; }
    cards = data.cards;
    show();
  });
})();
