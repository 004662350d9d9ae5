/*
 * The web chat: talks to Rasa's REST channel (POST /webhooks/rest/webhook with {sender, message})
 * and every few seconds reads the conversation's tracker for nudges that arrived meanwhile, as the
 * terminal chat does (bot/chat.py: nudges_since). Plain ES2017, no framework, no network beyond the
 * Rasa server named in /config.js. Bot text is only ever set as textContent, never as HTML.
 */
(function () {
  "use strict";

  const config = window.WEBCHAT_CONFIG || {};
  const RASA_URL = String(config.rasaUrl || "").replace(/\/+$/, "");
  const POLL_MS = Math.max(1, Number(config.pollSeconds) || 10) * 1000;
  const REPLY_TIMEOUT_MS = 60000;
  const SENDER_KEY = "safeguarding-webchat:sender";
  const SEEN_KEY = "safeguarding-webchat:seen-nudges";
  const SEEN_KEEP = 200;
  const NUDGE_INTENT = "EXTERNAL_nudge";
  const UNAVAILABLE =
    "Sorry, the assistant isn't answering just now (it may be starting up or offline). " +
    "Please try again in a minute. If someone is at immediate risk, call 999 now.";

  const conversation = document.getElementById("conversation");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const sendButton = document.getElementById("send");
  const status = document.getElementById("status");
  const restart = document.getElementById("restart");

  let busy = false;
  let polling = false;

  // localStorage can be switched off or full; the chat still works, only without memory.
  const memory = {};
  function load(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (error) {
      return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null;
    }
  }
  function store(key, value) {
    memory[key] = value;
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (error) {
      /* kept in memory only */
    }
  }

  function newSenderId() {
    const bytes = new Uint8Array(12);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
    }
    return "webchat-" + Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function senderId() {
    let sender = load(SENDER_KEY);
    if (!sender || !/^webchat-[0-9a-f]{8,64}$/.test(sender)) {
      sender = newSenderId();
      store(SENDER_KEY, sender);
    }
    return sender;
  }

  function seenNudges() {
    try {
      const list = JSON.parse(load(SEEN_KEY) || "[]");
      return new Set(Array.isArray(list) ? list : []);
    } catch (error) {
      return new Set();
    }
  }

  function rememberSeen(seen) {
    store(SEEN_KEY, JSON.stringify(Array.from(seen).slice(-SEEN_KEEP)));
  }

  // ---- rendering -------------------------------------------------------------------------

  function scrollToEnd() {
    conversation.scrollTop = conversation.scrollHeight;
  }

  function bubble(kind, labelText) {
    const element = document.createElement("div");
    element.className = "message " + kind;
    if (labelText) {
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = labelText;
      element.appendChild(label);
    }
    return element;
  }

  function textElement(text) {
    const paragraph = document.createElement("p");
    paragraph.className = "text";
    paragraph.textContent = text; // white-space: pre-wrap keeps the line breaks
    return paragraph;
  }

  function safeUrl(value) {
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function attachmentElement(attachment) {
    const wrapper = document.createElement("div");
    wrapper.className = "attachment";
    const icon = document.createElement("span");
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "\uD83D\uDCCE";
    wrapper.appendChild(icon);
    const details = document.createElement("span");
    const info = typeof attachment === "string" ? { url: attachment } : attachment || {};
    const url = safeUrl(info.url);
    const name = String(info.name || (url ? url.split("/").pop() : "") || "File");
    if (url) {
      const link = document.createElement("a");
      link.href = url;
      link.textContent = name;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      details.appendChild(link);
    } else {
      const strong = document.createElement("strong");
      strong.textContent = name;
      details.appendChild(strong);
    }
    if (!url && info.path) {
      const where = document.createElement("span");
      where.className = "where";
      where.textContent = "Saved by the assistant at " + info.path;
      details.appendChild(where);
    }
    details.setAttribute("aria-label", "Attachment: " + name);
    wrapper.appendChild(details);
    return wrapper;
  }

  function buttonsElement(buttons) {
    const group = document.createElement("div");
    group.className = "buttons";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Choices");
    buttons.forEach(function (button) {
      if (!button || typeof button.payload !== "string") return;
      const element = document.createElement("button");
      element.type = "button";
      element.textContent = String(button.title || button.payload);
      element.addEventListener("click", function () {
        if (busy) return;
        send(button.payload, element.textContent, false);
      });
      group.appendChild(element);
    });
    return group;
  }

  // One reply of the REST channel, or of a tracker event: {text, buttons, attachment, image}.
  function addBotReply(reply, isNudge) {
    const text = typeof reply.text === "string" ? reply.text : "";
    const attachment = reply.attachment || (reply.image ? { url: reply.image, name: "Image" } : null);
    const buttons = Array.isArray(reply.buttons) ? reply.buttons : [];
    if (!text && !attachment && !buttons.length) return null;
    const element = bubble(isNudge ? "bot nudge" : "bot", isNudge ? "Reminder" : "");
    if (text) element.appendChild(textElement(text));
    if (attachment) element.appendChild(attachmentElement(attachment));
    if (buttons.length) element.appendChild(buttonsElement(buttons));
    conversation.appendChild(element);
    scrollToEnd();
    return element;
  }

  function addUserMessage(text) {
    const element = bubble("user", "");
    element.appendChild(textElement(text));
    conversation.appendChild(element);
    scrollToEnd();
    return element;
  }

  // A long answer is read from its start: show the question asked and the answer's beginning,
  // not the answer's last line (the browser stops at the end when it all fits).
  function scrollToTurn(element) {
    conversation.scrollTop = Math.max(0, element.offsetTop - 8);
  }

  function addError(text) {
    const element = bubble("bot error", "");
    element.setAttribute("role", "alert");
    element.appendChild(textElement(text));
    conversation.appendChild(element);
    scrollToEnd();
  }

  // Choices already answered (or overtaken by a new message) can't be pressed again.
  function disableButtons() {
    const pressed = [];
    conversation.querySelectorAll(".buttons button:not(:disabled)").forEach(function (button) {
      button.disabled = true;
      pressed.push(button);
    });
    return pressed;
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    conversation.setAttribute("aria-busy", value ? "true" : "false");
    status.textContent = value ? "The assistant is replying\u2026" : "";
  }

  // ---- talking to Rasa -------------------------------------------------------------------

  async function fetchJson(url, options, timeoutMs) {
    const controller = window.AbortController ? new AbortController() : null;
    const timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs) : null;
    try {
      const response = await fetch(url, Object.assign({ signal: controller && controller.signal }, options));
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.text();
      return body ? JSON.parse(body) : null;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  function postMessage(message) {
    return fetchJson(RASA_URL + "/webhooks/rest/webhook", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: senderId(), message: message }),
    }, REPLY_TIMEOUT_MS);
  }

  // The assistant's messages answering nudges (EXTERNAL_nudge) not yet seen, as replies; the
  // same walk over the tracker's events as nudges_since in bot/chat.py.
  function nudgesIn(events, seen) {
    const found = [];
    let answeringNudge = false;
    (events || []).forEach(function (event) {
      if (!event) return;
      if (event.event === "user") {
        const intent = (event.parse_data || {}).intent || {};
        answeringNudge = intent.name === NUDGE_INTENT;
      } else if (event.event === "bot" && answeringNudge && !seen.has(event.timestamp)) {
        seen.add(event.timestamp);
        const data = event.data || {};
        found.push({ text: event.text, buttons: data.buttons || [], attachment: data.attachment || null });
      }
    });
    return found;
  }

  async function showNudges() {
    if (busy || polling || !RASA_URL) return;
    polling = true;
    try {
      const sender = senderId();
      const tracker = await fetchJson(
        RASA_URL + "/conversations/" + encodeURIComponent(sender) + "/tracker", {}, 10000
      );
      if (busy || sender !== senderId()) return; // the next poll reads it again
      const seen = seenNudges();
      const arrived = nudgesIn((tracker || {}).events, seen);
      if (arrived.length) {
        rememberSeen(seen);
        arrived.forEach(function (reply) { addBotReply(reply, true); });
      }
    } catch (error) {
      // Not up yet, or gone: the next message says so politely.
    } finally {
      polling = false;
    }
  }

  async function send(message, shown, typed) {
    if (busy) return;
    if (!RASA_URL) {
      addError("The chat is not set up: it does not know where the assistant is. Please tell whoever runs it.");
      return;
    }
    setBusy(true);
    const asked = addUserMessage(shown);
    const disabled = disableButtons();
    try {
      const replies = await postMessage(message);
      if (!Array.isArray(replies) || !replies.length) {
        addError("The assistant had no reply to that. Please try saying it another way.");
      } else {
        replies.forEach(function (reply) { addBotReply(reply || {}, false); });
        scrollToTurn(asked);
      }
    } catch (error) {
      addError(UNAVAILABLE);
      disabled.forEach(function (button) { button.disabled = false; });
      if (typed && !input.value) input.value = message;
    } finally {
      setBusy(false);
      if (typed) input.focus();
    }
  }

  // ---- wiring ----------------------------------------------------------------------------

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const message = input.value.trim();
    if (!message || busy) return;
    input.value = "";
    send(message, message, true);
  });

  restart.addEventListener("click", function () {
    if (busy) return;
    if (!window.confirm("Start a new conversation? This one will be cleared from this screen.")) return;
    store(SENDER_KEY, newSenderId());
    store(SEEN_KEY, null);
    conversation.querySelectorAll(".message:not(.intro)").forEach(function (element) { element.remove(); });
    input.value = "";
    input.focus();
  });

  senderId();
  showNudges();
  setInterval(showNudges, POLL_MS);
})();
