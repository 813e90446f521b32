// "Verify this entry" in the console's log browser: the page fetches the entry with its
// inclusion proof and the checkpoint's root hash, and checks them here with WebCrypto, so the
// answer does not rest on the hub's word for it.
//
// A button carries data-verify-url (a JSON document {"index", "tree_size", "entry",
// "hashes": [hex…], "root_hash": hex}); the element named by its data-verify-result shows its
// data-label-verified or data-label-failed. No inline script: the console's CSP is
// script-src 'self'.
"use strict";

(function () {
  // RFC 8785 (JCS): keys sorted by UTF-16 code units (the default sort), strings and numbers
  // as ECMAScript's JSON.stringify writes them, no whitespace.
  function canonical(value) {
    if (value === null || typeof value !== "object") {
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) {
      return "[" + value.map(canonical).join(",") + "]";
    }
    return "{" + Object.keys(value).sort().map(function (key) {
      return JSON.stringify(key) + ":" + canonical(value[key]);
    }).join(",") + "}";
  }

  function fromHex(text) {
    if (typeof text !== "string" || !/^([0-9a-f]{2})*$/.test(text)) {
      throw new Error("not lower-case hex");
    }
    const bytes = new Uint8Array(text.length / 2);
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = parseInt(text.substr(2 * i, 2), 16);
    }
    return bytes;
  }

  async function sha256(prefix, parts) {
    const length = parts.reduce(function (n, p) { return n + p.length; }, 1);
    const input = new Uint8Array(length);
    input[0] = prefix;
    let at = 1;
    for (const part of parts) {
      input.set(part, at);
      at += part.length;
    }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  }

  // RFC 9162 §2.1.1: a leaf is SHA-256(0x00 ‖ entry), a node SHA-256(0x01 ‖ left ‖ right).
  function leafHash(entryText) {
    return sha256(0x00, [new TextEncoder().encode(entryText)]);
  }

  function nodeHash(left, right) {
    return sha256(0x01, [left, right]);
  }

  function equal(a, b) {
    return a.length === b.length && a.every(function (x, i) { return x === b[i]; });
  }

  // RFC 9162 §2.1.3.2: the audit path from leaf to root. Indexes are below 2^53, so halving
  // is by division (JavaScript's bit shifts are 32-bit).
  async function included(index, size, leaf, path, root) {
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
      return false;
    }
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of path) {
      if (sn === 0) {
        return false;
      }
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(r, root);
  }

  async function verify(proof) {
    const leaf = await leafHash(canonical(proof.entry));
    const path = proof.hashes.map(fromHex);
    return included(proof.index, proof.tree_size, leaf, path, fromHex(proof.root_hash));
  }

  async function check(button) {
    const result = document.getElementById(button.dataset.verifyResult);
    result.textContent = "…";
    let ok = false;
    try {
      const response = await fetch(button.dataset.verifyUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      ok = response.ok && (await verify(await response.json()));
    } catch (error) {
      ok = false; // a proof that does not parse proves nothing
    }
    result.textContent = ok ? button.dataset.labelVerified : button.dataset.labelFailed;
    result.dataset.verified = ok ? "yes" : "no";
  }

  document.addEventListener("DOMContentLoaded", function () {
    for (const button of document.querySelectorAll("[data-verify-url]")) {
      button.addEventListener("click", function () { check(button); });
    }
  });
})();
