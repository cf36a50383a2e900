// The live page: follows the node's /feed WebSocket and draws what it says.
// Every text from the node goes in with textContent, never as markup.
"use strict";

const state = {nodes: [], cucm: [], hub: null, timeline: [], events: [], limits: {},
               offset: 0, retry: 0};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A table cell that shows its column name before it on narrow screens.
function cell(label, content, cls) {
  const td = el("td", {"data-label": label, class: cls});
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  return td;
}

function clock(epoch) {
  const d = new Date(epoch * 1000);
  return d.toLocaleTimeString([], {hour12: false}) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

// Server time now, from the offset measured at the last message.
function serverNow() { return Date.now() / 1000 + state.offset; }

function remaining(expiresAt) {
  const left = Math.max(0, Math.ceil(expiresAt - serverNow()));
  if (left >= 3600) return `${Math.floor(left / 3600)} h ${Math.floor(left % 3600 / 60)} min`;
  if (left >= 60) return `${Math.floor(left / 60)} min ${left % 60} s`;
  return `${left} s`;
}

function countdown(expiresAt) {
  return el("span", {class: "countdown", "data-expires": expiresAt}, remaining(expiresAt));
}

// --- nodes and listeners ---------------------------------------------------------------

function listenerBlock(l) {
  const where = l.listening ? `listening on ${l.address}:${l.port}` : "NOT listening";
  const mode = !l.secure ? "plain TCP" :
    (l.client_certificate_required ? "TLS, client certificate required" : "TLS, no client certificate");
  const block = el("article", {class: "listener", "data-interface": l.interface,
                               "data-listening": l.listening ? "yes" : "no"},
    el("h4", {}, `${l.interface} `, el("span", {class: "kind"}, l.kind)),
    el("p", {}, `${mode}; ${where}`, l.note ? ` (${l.note})` : null));
  if (l.problem) block.append(el("p", {class: "problem"}, "Problem: ", l.problem));
  if (l.secure) {
    block.append(el("p", {class: "protocols"}, "Protocols offered: ",
      el("strong", {}, l.protocols.length ? l.protocols.join(", ") : "none")));
    for (const p of l.not_offered) {
      block.append(el("p", {class: "not-offered"}, `${p.name} is allowed but not offered: ${p.reason}`));
    }
    if (l.refusing_every_handshake) {
      block.append(el("p", {class: "problem"}, `Refusing every handshake: ${l.refusing_every_handshake}`));
    }
    const negotiable = l.suites.filter(s => s.negotiable);
    const list = el("ul", {class: "suites"});
    for (const s of l.suites) {
      list.append(el("li", {class: s.negotiable ? "ok" : "no"},
        s.negotiable ? "✓ " : "✗ ", el("code", {}, s.iana),
        s.negotiable ? ` with ${s.protocols.join(", ")}` : ` not negotiable: ${s.reason}`));
    }
    block.append(el("details", {class: "suites-details"},
      el("summary", {}, `Cipher suites: ${negotiable.length} of ${l.suites.length} negotiable`), list));
  }
  if (l.certificate) {
    block.append(el("p", {class: "certificate"}, "Certificate: ", l.certificate.subject,
      `, until ${l.certificate.not_after.slice(0, 10)}, SHA-256 `,
      el("code", {class: "fingerprint"}, l.certificate.sha256)));
  }
  if (l.refused_since_restart) {
    block.append(el("p", {}, `${l.refused_since_restart} connection(s) refused since the restart`));
  }
  return block;
}

function nodeBlock(n) {
  const block = el("article", {class: "node", "data-node": n.name},
    el("h3", {}, `${n.name} `, el("span", {class: "kind"}, n.kind),
      n.kind !== "AS" ? el("span", {class: "running"}, n.running ? " running" : " not running") : null));
  if (n.pending_restart.length) {
    const list = el("ul", {class: "pending-list"});
    for (const change of n.pending_restart) list.append(el("li", {}, el("code", {}, change)));
    block.append(el("div", {class: "pending"},
      el("p", {}, el("strong", {}, `⚠ Awaiting restart (${n.pending_restart.length}):`)), list));
  } else if (n.kind !== "AS") {
    block.append(el("p", {class: "no-pending"}, "Nothing awaits a restart."));
  }
  if (n.kind === "AS") {
    block.append(el("p", {}, "ClientIdentity: ",
      n.client_identities.length ? n.client_identities.join(", ") : "(empty)"));
    return block;
  }
  if (n.kind === "CUCM") {
    block.append(el("p", {}, "Its services, CTL, CAPF and CTIManager are in the CUCM section."));
    return block;
  }
  block.append(el("p", {}, `allowClientApp: ${n.allow_client_app}`));
  if (!n.listeners.length) block.append(el("p", {class: "empty"}, "No CTI listener configured."));
  for (const l of n.listeners) block.append(listenerBlock(l));
  if (n.trust_anchors.length) {
    const list = el("ul", {class: "anchors"});
    for (const t of n.trust_anchors) {
      list.append(el("li", {}, el("strong", {}, t.alias), ": ",
        t.certificate ? t.certificate.subject : "(unreadable)",
        t.certificate ? el("code", {class: "fingerprint"}, ` ${t.certificate.sha256}`) : null));
    }
    block.append(el("details", {}, el("summary", {}, `Trust anchors: ${n.trust_anchors.length}`), list));
  } else {
    block.append(el("p", {}, "Trust anchors: none (every client certificate is refused)"));
  }
  return block;
}

function drawNodes() {
  const body = document.getElementById("nodes-body");
  body.replaceChildren(...(state.nodes.length ? state.nodes.map(nodeBlock)
                                              : [el("p", {class: "empty"}, "No node yet.")]));
}

function fingerprint(sha256) {
  return sha256 ? el("code", {class: "fingerprint"}, sha256) : "(no certificate in the record)";
}

function trustFile(f, what) {
  if (!f) return el("p", {}, `${what}: none written (non-secure mode)`);
  if (f.problem) return el("p", {class: "problem"}, `${what} ${f.file} cannot be read: ${f.problem}`);
  const rows = f.records.map(r => el("tr", {},
    cell("Role", r.role), cell("Subject", r.subject), cell("Serial", el("code", {}, r.serial)),
    cell("SHA-256", fingerprint(r.sha256))));
  return el("details", {class: "trust-file", "data-file": f.file, open: what === "CTL"},
    el("summary", {}, `${what} ${f.file}: ${f.records.length} record(s), signed by SAST `,
      `${f.signer_subject} (serial ${f.signer_serial}), `,
      f.verified ? "✓ signature verified" : "✗ signature NOT verified",
      `, written ${new Date(f.written_at * 1000).toISOString().slice(0, 19).replace("T", " ")} UTC`),
    el("div", {class: "scroll"}, el("table", {class: "cards"},
      el("thead", {}, el("tr", {}, ...["Role", "Subject", "Serial", "SHA-256"].map(h => el("th", {}, h)))),
      el("tbody", {}, ...rows))));
}

function capfTable(entries, first) {
  const rows = entries.map(p => {
    const lsc = p.certificate;
    const certificate = lsc ? el("span", {}, `${lsc.subject}, serial `, el("code", {}, lsc.serial),
      `, until ${lsc.not_after.slice(0, 10)}`, lsc.compromised ? " ✗ COMPROMISED" : "",
      lsc.sha256 ? el("br") : null, lsc.sha256 ? fingerprint(lsc.sha256) : null) : "none issued";
    return el("tr", {"data-capf": p.name},
      cell(first, p.user ? `${p.name} (${p.kind}: ${p.user})` : p.name),
      cell("Operation", p.operation + (p.completes_by && p.operation !== "No Pending Operation"
                                       ? `, to complete by ${p.completes_by}` : "")),
      cell("Status", p.status, "status"),
      cell("Certificate", certificate));
  });
  return el("div", {class: "scroll"}, el("table", {class: "cards"},
    el("thead", {}, el("tr", {}, ...[first, "Operation", "Status", "Certificate"].map(h => el("th", {}, h)))),
    el("tbody", {}, ...rows)));
}

function cucmBlock(c) {
  const block = el("article", {class: "node cucm", "data-node": c.name},
    el("h3", {}, `${c.name} `, el("span", {class: "kind"}, "CUCM"),
      el("span", {class: "running"}, c.running ? " running" : " not running")),
    el("p", {class: "security"}, "Cluster security: ",
      el("strong", {}, c.mixed_mode ? "mixed mode" : "non-secure mode"),
      `; TLS ${c.tls_min_version} and up`));
  if (c.pending_restart.length) {
    const list = el("ul", {class: "pending-list"});
    for (const change of c.pending_restart) list.append(el("li", {}, el("code", {}, change)));
    block.append(el("div", {class: "pending"},
      el("p", {}, el("strong", {}, `⚠ Awaiting restart (${c.pending_restart.length}):`)), list));
  } else {
    block.append(el("p", {class: "no-pending"}, "Nothing awaits a restart."));
  }
  const services = el("ul", {class: "services"});
  for (const s of c.services) {
    services.append(el("li", {"data-service": s.name, "data-listening": s.listening ? "yes" : "no"},
      s.listening ? "✓ " : "✗ ", el("strong", {}, s.name), ` ${s.transport} ${s.address}:${s.port}`,
      s.listening ? " listening" : ` NOT listening: ${s.problem}`));
  }
  block.append(el("h4", {}, "Services"), services);
  block.append(el("h4", {}, "CTIManager providers"));
  if (!c.providers.length) block.append(el("p", {class: "empty"}, "No open provider."));
  else {
    const list = el("ul", {class: "providers"});
    for (const p of c.providers) {
      list.append(el("li", {"data-provider": p.id},
        `Provider ${p.id}: ${p.user}`, p.instance ? ` (instance ${p.instance})` : "",
        ` from ${p.peer} on port ${p.port}, `, p.tls ? "TLS" : "no TLS",
        `; devices in service: ${p.devices.join(", ") || "none"}`));
    }
    block.append(list);
  }
  block.append(el("h4", {}, "CTL and ITL"), trustFile(c.ctl, "CTL"), trustFile(c.itl, "ITL"));
  block.append(el("h4", {}, `CAPF profiles: ${c.capf_profiles.length}`),
    c.capf_profiles.length ? capfTable(c.capf_profiles, "Instance ID") : el("p", {class: "empty"}, "None."));
  block.append(el("h4", {}, `Phones: ${c.phones.length}`),
    c.phones.length ? capfTable(c.phones, "Device") : el("p", {class: "empty"}, "None."));
  return block;
}

function drawCucm() {
  const section = document.getElementById("cucm");
  section.hidden = !state.cucm.length;
  document.getElementById("cucm-body").replaceChildren(...state.cucm.map(cucmBlock));
}

// --- connections -----------------------------------------------------------------------

// What the client got back: a TLS alert, or, after the handshake, an HTTP status (Xsi
// interface), a status in a CTI interface response, or a CTI error from CTIManager.
function answered(c) {
  if (c.alert) return c.alert;
  if (c.http_status) return `none: HTTP ${c.http_status} after the handshake`;
  if (c.cti_status) return `none: the CTI interface answered status ${c.cti_status} after the handshake`;
  if (c.cti_error) return `none: CTI error ${c.cti_error} ${c.cti_words}`;
  return c.outcome === "refused" ? "no alert sent" : "";
}

function connectionRow(c) {
  const refused = c.outcome === "refused";
  const detail = refused ? c.reason : [c.protocol, c.suite].filter(Boolean).join(", ");
  const row = el("tr", {class: c.outcome, "data-outcome": c.outcome, "data-id": c.id},
    cell("Time", clock(c.at)),
    cell("Outcome", refused ? "✗ REFUSED" : "✓ admitted", "outcome"),
    cell("Listener", c.listener),
    cell("Client", c.peer),
    cell("Certificate CN", c.subject || (refused ? "" : "(none)"), "subject"),
    cell(refused ? "Reason" : "Protocol, suite", detail, refused ? "reason" : "negotiated"),
    cell("Alert", answered(c), "alert"));
  row.title = c.log_line || "";
  row.dataset.search = [c.outcome, c.listener, c.peer, c.subject, c.protocol, c.suite,
                        c.reason, answered(c)]
                       .filter(Boolean).join(" ").toLowerCase();
  return row;
}

function filterConnections() {
  const outcome = document.getElementById("connections-outcome").value;
  const words = document.getElementById("connections-filter").value.toLowerCase().trim();
  let shown = 0;
  const rows = document.getElementById("connections-body").rows;
  for (const row of rows) {
    const visible = (!outcome || row.dataset.outcome === outcome) &&
                    (!words || row.dataset.search.includes(words));
    row.hidden = !visible;
    if (visible) shown++;
  }
  document.getElementById("connections-count").textContent =
    `${shown} of ${rows.length} shown (the last ${state.limits.timeline || "?"} are kept)`;
}

function addConnection(c, redraw) {
  const body = document.getElementById("connections-body");
  body.prepend(connectionRow(c));
  while (body.rows.length > (state.limits.timeline || 500)) body.deleteRow(-1);
  if (redraw !== false) filterConnections();
}

// --- channel sets ----------------------------------------------------------------------

function drawHub() {
  const hub = state.hub;
  const body = document.getElementById("channels-body");
  if (!hub) return;
  const s = hub.stats;
  document.getElementById("hub-summary").textContent =
    `${hub.total} channel set(s)` + (hub.total > hub.shown ? `, the first ${hub.shown} shown` : "") +
    `. Events published ${s.published}, sent again ${s.redelivered}, acknowledged ${s.acknowledged}, ` +
    `undeliverable ${s.undeliverable}.`;
  if (!hub.channel_sets.length) {
    body.replaceChildren(el("p", {class: "empty"}, "No channel set."));
    return;
  }
  body.replaceChildren(...hub.channel_sets.map(set => {
    const channels = el("ul", {class: "channels"});
    for (const c of set.channels) {
      channels.append(el("li", {"data-channel": c.id}, "Channel ", el("code", {}, c.id.slice(0, 8)),
        ` over ${c.transport}, priority ${c.priority}, weight ${c.weight}, expires in `, countdown(c.expires_at)));
    }
    if (!set.channels.length) channels.append(el("li", {}, "No open channel: events wait in the backlog."));
    const rows = set.subscriptions.map(sub => el("tr", {"data-subscription": sub.id},
      cell("Target", sub.target), cell("Package", sub.package),
      cell("Application", sub.application_id),
      cell("Expires in", countdown(sub.expires_at)),
      cell("Unacknowledged", String(sub.unacknowledged), "unacknowledged")));
    return el("article", {class: "channel-set", "data-set": set.id},
      el("h3", {}, `${set.client} · set ${set.id}`),
      channels,
      set.backlog ? el("p", {}, `${set.backlog} event(s) wait for a channel.`) : null,
      set.subscriptions.length ?
        el("div", {class: "scroll"}, el("table", {class: "cards"},
          el("thead", {}, el("tr", {}, ...["Target", "Package", "Application", "Expires in",
                                           "Unacknowledged"].map(h => el("th", {}, h)))),
          el("tbody", {}, ...rows)))
        : el("p", {class: "empty"}, "No subscription."));
  }));
}

// --- events ----------------------------------------------------------------------------

function ackText(e) {
  if (e.acknowledged_at !== null && e.acknowledged_at !== undefined)
    return `✓ acknowledged after ${e.latency_ms === null ? "?" : e.latency_ms} ms`;
  return "… awaiting acknowledgement";
}

function eventRow(e) {
  const row = el("tr", {"data-event-id": e.event_id, "data-acknowledged": e.acknowledged_at ? "yes" : "no"},
    cell("Sent", clock(e.sent_at)),
    cell("Type", e.type, "type"),
    cell("User", e.user, "user"),
    cell("Client", e.client),
    cell("Seq.", String(e.sequence)),
    cell("Attempt", String(e.attempt), "attempt"),
    cell("Acknowledgement", ackText(e), "ack"));
  row.dataset.search = [e.type, e.user, e.client].join(" ").toLowerCase();
  return row;
}

function filterEvents() {
  const words = document.getElementById("events-filter").value.toLowerCase().trim();
  const rows = document.getElementById("events-body").rows;
  let shown = 0;
  for (const row of rows) {
    row.hidden = !!words && !row.dataset.search.includes(words);
    if (!row.hidden) shown++;
  }
  document.getElementById("events-count").textContent =
    `${shown} of ${rows.length} shown (the last ${state.limits.events || "?"} are kept)`;
}

function eventElement(id) {
  return document.querySelector(`#events-body tr[data-event-id="${CSS.escape(id)}"]`);
}

function addEvent(e, redraw) {
  const body = document.getElementById("events-body");
  const old = eventElement(e.event_id);
  const row = eventRow(e);
  if (old) old.replaceWith(row); else body.prepend(row);
  while (body.rows.length > (state.limits.events || 500)) body.deleteRow(-1);
  if (redraw !== false) filterEvents();
}

function acknowledge(message) {
  const row = eventElement(message.event_id);
  if (!row) return;
  row.dataset.acknowledged = "yes";
  row.querySelector(".ack").textContent = ackText(message);
}

// --- the feed --------------------------------------------------------------------------

function setStatus(kind, text) {
  const status = document.getElementById("feed-status");
  status.dataset.state = kind;
  status.textContent = text;
}

function onMessage(message) {
  if (typeof message.now === "number") state.offset = message.now - Date.now() / 1000;
  switch (message.type) {
    case "snapshot":
      state.limits = message.limits;
      state.nodes = message.nodes; state.cucm = message.cucm; state.hub = message.hub;
      drawNodes(); drawCucm(); drawHub();
      document.getElementById("connections-body").replaceChildren();
      for (const c of message.timeline) addConnection(c, false);
      filterConnections();
      document.getElementById("events-body").replaceChildren();
      for (const e of message.events) addEvent(e, false);
      filterEvents();
      break;
    case "nodes": state.nodes = message.nodes; drawNodes(); break;
    case "cucm": state.cucm = message.cucm; drawCucm(); break;
    case "hub": state.hub = message.hub; drawHub(); break;
    case "connection": addConnection(message.connection); break;
    case "event": addEvent(message.event); break;
    case "ack": acknowledge(message); break;
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/feed${location.search}`);
  socket.onopen = () => {
    state.retry = 0;
    setStatus("live", "● Live: following the node.");
  };
  socket.onmessage = event => onMessage(JSON.parse(event.data));
  socket.onclose = () => {
    // The node restarts or stops: keep what is shown, say so, and come back.
    const wait = Math.min(5, 0.25 * 2 ** state.retry++);
    setStatus("down", `○ Not connected to the node; retrying in ${wait} s. What is shown is as of the last update.`);
    setTimeout(connect, wait * 1000);
  };
  socket.onerror = () => {};  // onclose follows and says what happens next
}

function tick() {
  for (const span of document.querySelectorAll(".countdown")) {
    span.textContent = remaining(Number(span.dataset.expires));
  }
}

document.getElementById("connections-outcome").addEventListener("change", filterConnections);
document.getElementById("connections-filter").addEventListener("input", filterConnections);
document.getElementById("events-filter").addEventListener("input", filterEvents);
for (const form of document.querySelectorAll("form.filters")) {
  form.addEventListener("submit", event => event.preventDefault());
}
setInterval(tick, 1000);
connect();
