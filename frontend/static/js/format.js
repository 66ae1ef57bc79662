// Turning frame data into display text: local times and message text with safe links.

/** Sets a <time> to the local time of an RFC 3339 timestamp (date too, if not today). */
function setTime(node, iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    node.textContent = "";
    return;
  }
  const today = date.toDateString() === new Date().toDateString();
  node.dateTime = date.toISOString();
  node.title = date.toLocaleString();
  node.textContent = today
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;

/** Whether a URL as written has a `user:pass@` part. `https://bank.example@evil.example`
 *  reads like the bank but goes to evil.example, so such URLs are never made links. Any `@`
 *  before the path counts, also one after a `\` (which browsers read as `/`, so that text
 *  misleads about the host just the same). */
function hasUserinfo(raw, url) {
  const authority = raw.slice(raw.indexOf("//") + 2).split(/[/?#]/, 1)[0];
  return authority.includes("@") || url.username !== "" || url.password !== "";
}

const CLOSERS = { ")": "(", "]": "[", "}": "{" };

/** A URL as found in text, without what follows it in the sentence: trailing punctuation,
 *  and a closing bracket that closes a bracket opened before the URL. A bracket the URL
 *  itself opened stays (`…/wiki/Chat_(disambiguation)`). */
function trimUrlEnd(found) {
  let raw = found;
  for (;;) {
    const last = raw.at(-1);
    if (".,;:!?'*\"".includes(last)) {
      raw = raw.slice(0, -1);
    } else if (CLOSERS[last] && count(raw, last) > count(raw, CLOSERS[last])) {
      raw = raw.slice(0, -1);
    } else {
      return raw;
    }
  }
}

function count(text, char) {
  return text.split(char).length - 1;
}

/** Appends `text` to `parent` as text nodes, with http(s) URLs as links. Only URLs that
 *  parse with an http(s) scheme and carry no userinfo become links, so `javascript:` and
 *  friends and `user@host` look-alikes stay text; the link opens in a new tab without giving
 *  that tab a handle on this one. */
function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const raw = trimUrlEnd(match[0]);
    let url = null;
    try {
      url = new URL(raw);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    if (hasUserinfo(raw, url)) continue;
    parent.append(text.slice(last, match.index));
    const link = el("a", null, raw);
    link.href = url.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
    parent.append(link);
    last = match.index + raw.length;
  }
  parent.append(text.slice(last));
}
