// The pipeline kanban: drag a deal card onto another stage column. The move is posted to the
// console (CSRF token, the deal's version); the server decides whether the stage can be reached,
// and a refused move puts the card back with the server's reason. No framework.
(function () {
  "use strict";
  var board = document.querySelector(".kanban");
  if (!board) return;
  var message = document.getElementById("kanban-message");
  var dragged = null;

  function say(text) { message.textContent = text; message.hidden = !text; }

  function count(column) {
    var span = column.querySelector("h2 .muted");
    if (!span) return;
    var parts = span.textContent.split("·");
    parts[1] = " " + column.querySelectorAll(".deal").length + " ";
    span.textContent = parts.join("·");
  }

  board.addEventListener("dragstart", function (e) {
    var card = e.target.closest(".deal");
    if (!card) return;
    dragged = card;
    e.dataTransfer.setData("text/plain", card.dataset.deal);
    e.dataTransfer.effectAllowed = "move";
  });
  board.addEventListener("dragover", function (e) {
    var column = e.target.closest(".column");
    if (!column || !dragged) return;
    e.preventDefault();
    column.classList.add("over");
  });
  board.addEventListener("dragleave", function (e) {
    var column = e.target.closest(".column");
    if (column && !column.contains(e.relatedTarget)) column.classList.remove("over");
  });
  board.addEventListener("drop", function (e) {
    var column = e.target.closest(".column");
    if (!column || !dragged) return;
    e.preventDefault();
    column.classList.remove("over");
    var card = dragged, from = card.parentElement;
    dragged = null;
    if (from === column) return;
    var body = new URLSearchParams({csrf_token: board.dataset.csrf, stage: column.dataset.stage,
                                    version: card.dataset.version});
    if (column.dataset.kind === "lost") {
      var reason = window.prompt("Why was this deal lost?");
      if (!reason) return;
      body.set("lost_reason", reason);
    }
    column.appendChild(card);
    card.classList.add("moving");
    fetch("/console/sales/deals/" + card.dataset.deal + "/move", {
      method: "POST", body: body, headers: {"Accept": "application/json"}, credentials: "same-origin"
    }).then(function (r) { return r.json(); }).then(function (answer) {
      card.classList.remove("moving");
      if (answer.ok) {
        card.dataset.version = answer.version;
        say("");
      } else {
        from.appendChild(card);
        say("Not moved: " + answer.message);
      }
      count(from); count(column);
    }).catch(function () {
      card.classList.remove("moving");
      from.appendChild(card);
      count(from); count(column);
      say("Not moved: the server did not answer.");
    });
  });
})();
