// ragstream web chat: thumbs up / down and a comment under each answer (the `feedback` message of
// docs/gateway-protocol.md). app.js creates it with its frame sender and routes the replies here.
"use strict";

window.ragstreamRatings = (sendFrame) => {
  const FEEDBACK_ERROR_TEXT = {
    not_found: "This answer can no longer be rated.",
    not_answered: "Wait for the answer before rating it.",
    too_many_ratings: "This answer has been rated enough times.",
    unavailable: "Your rating could not be recorded right now. Please try again.",
  };
  const answered = new Map(); // request id -> the turn's element

  function offer(el, requestId) {
    answered.set(requestId, el);
    const bar = el.querySelector(".feedback");
    const form = bar.querySelector(".feedback-comment");
    const status = bar.querySelector(".feedback-status");
    bar.hidden = false;
    bar.querySelectorAll(".rate").forEach((button) =>
      button.addEventListener("click", () => {
        const rating = button.dataset.rating;
        bar.dataset.rating = rating;
        bar.querySelectorAll(".rate").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        status.textContent = "Sending…";
        form.hidden = false;
        sendFrame({ type: "feedback", request_id: requestId, rating });
      }),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const comment = form.elements.comment.value.trim();
      if (!comment || !bar.dataset.rating) return;
      status.textContent = "Sending…";
      bar.dataset.commented = "pending";
      sendFrame({ type: "feedback", request_id: requestId, rating: bar.dataset.rating, comment });
    });
  }

  function onRated(msg) {
    const el = answered.get(msg.request_id);
    if (!el) return;
    const bar = el.querySelector(".feedback");
    bar.dataset.recorded = msg.rating;
    const commented = bar.dataset.commented === "pending";
    if (commented) {
      bar.dataset.commented = "yes";
      bar.querySelector(".feedback-comment").hidden = true;
    }
    bar.querySelector(".feedback-status").textContent = commented
      ? "Thanks, your comment was recorded."
      : "Thanks! Add a comment if you like.";
  }

  function onError(msg) {
    const bar = answered.get(msg.request_id).querySelector(".feedback");
    bar.dataset.recorded = "";
    bar.querySelector(".feedback-status").textContent =
      FEEDBACK_ERROR_TEXT[msg.code] || msg.message || "Your rating could not be recorded.";
  }

  return { offer, onRated, onError, has: (requestId) => answered.has(requestId) };
};
