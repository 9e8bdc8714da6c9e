// ragstream web chat: an answer's sources, a numbered list of citations (title, page, source with a
// copy button) that the answer's [n] markers open.
"use strict";

window.ragstreamSources = (() => {
  function open(li) {
    const details = li.querySelector("details");
    details.open = true;
    li.scrollIntoView({ block: "nearest", behavior: "smooth" });
    details.querySelector("summary").focus();
  }

  function show(turn, citations) {
    const section = turn.querySelector(".sources");
    const list = section.querySelector(".citations");
    list.replaceChildren();
    for (const c of citations) list.appendChild(citationItem(c));
    section.hidden = citations.length === 0;
  }

  function citationItem(c) {
    const li = document.createElement("li");
    li.dataset.n = String(c.n);
    li.value = Number(c.n) || 0;
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    const num = document.createElement("span");
    num.className = "n";
    num.textContent = `[${c.n}]`;
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = c.title || c.doc_id || "Untitled source";
    summary.append(num, " ", title);
    details.appendChild(summary);

    const dl = document.createElement("dl");
    addField(dl, "Title", document.createTextNode(c.title || "—"));
    addField(dl, "Page", document.createTextNode(c.page === null || c.page === undefined ? "—" : String(c.page)));
    addField(dl, "Source", sourceNode(c.source_uri || ""));
    details.appendChild(dl);
    li.appendChild(details);
    return li;
  }

  function addField(dl, label, node) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.appendChild(node);
    dl.append(dt, dd);
  }

  function sourceNode(uri) {
    const wrap = document.createElement("span");
    wrap.className = "uri";
    if (/^https?:\/\//i.test(uri)) {
      const a = document.createElement("a");
      a.href = uri;
      a.textContent = uri;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      wrap.appendChild(a);
    } else {
      const code = document.createElement("code");
      code.textContent = uri || "—";
      wrap.appendChild(code);
    }
    if (uri) {
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "copy";
      copy.textContent = "Copy";
      copy.setAttribute("aria-label", "Copy source address");
      copy.addEventListener("click", () => copyText(uri, copy));
      wrap.append(" ", copy);
    }
    return wrap;
  }

  async function copyText(text, button) {
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try {
        ok = document.execCommand("copy");
      } catch {
        ok = false;
      }
      area.remove();
    }
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => (button.textContent = "Copy"), 1500);
  }

  return { show, open };
})();
