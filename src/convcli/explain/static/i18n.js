"use strict";
// convcli explain in the reader's language: English, or Spanish in the lecture's own words.
// The language is the first of the browser's languages (navigator.languages: what it sends as
// Accept-Language) that the page speaks, unless the reader chose one with the EN | ES switch
// (remembered in localStorage). The Spanish strings are the convcli catalog's
// (src/convcli/locale/es/LC_MESSAGES/convcli.po), written into i18n-es.js by tools/i18n_catalog.py.
// Static text is marked in index.html: each direct text of an element with data-i18n is a message
// id, and so is the aria-label of an element with data-i18n-label; app.js asks t() (its msg()) for the rest
// and re-renders its own text when the language changes (onChange).
(() => {
  const LANGUAGES = ["en", "es"];
  const NAMES = { en: "English", es: "Español" };
  const KEY = "convcli-lang";
  const catalogs = window.convcliMessages || {};
  const listeners = [];
  const texts = []; // [text node, message id] for each marked static text, read once
  const labels = []; // [element, message id] for each marked aria-label
  let current = "en";

  const normal = (text) => text.replace(/\s+/g, " ").trim();

  // A message in the current language, its {name} fields filled from values.
  function t(id, values = {}) {
    const table = catalogs[current] || {};
    const text = Object.prototype.hasOwnProperty.call(table, id) ? table[id] : id;
    return text.replace(/\{(\w+)\}/g, (field, name) => (name in values ? String(values[name]) : field));
  }

  function saved() {
    try {
      return window.localStorage.getItem(KEY);
    } catch (error) {
      return null; // storage refused (a file:// page, private browsing): the browser's choice
    }
  }

  // The stored choice, else the first of the browser's languages the page speaks, else English.
  function preferred() {
    const choice = saved();
    if (LANGUAGES.includes(choice)) return choice;
    for (const tag of navigator.languages || [navigator.language || ""]) {
      const code = String(tag).toLowerCase().split(/[-_]/)[0];
      if (LANGUAGES.includes(code)) return code;
    }
    return LANGUAGES[0];
  }

  function collect() {
    for (const element of document.querySelectorAll("[data-i18n]")) {
      for (const node of element.childNodes) {
        if (node.nodeType === Node.TEXT_NODE && normal(node.data)) texts.push([node, normal(node.data)]);
      }
    }
    for (const element of document.querySelectorAll("[data-i18n-label]")) {
      labels.push([element, element.getAttribute("aria-label")]);
    }
  }

  function applyStatic() {
    for (const [node, id] of texts) {
      if (!node.isConnected) continue; // replaced by app.js: it writes that text itself
      const [, before, , after] = node.data.match(/^(\s*)([\s\S]*?)(\s*)$/);
      node.data = before + t(id) + after;
    }
    for (const [element, id] of labels) element.setAttribute("aria-label", t(id));
  }

  function switchButtons() {
    const nav = document.createElement("nav");
    nav.id = "lang-switch";
    nav.setAttribute("aria-label", "Language / Idioma");
    LANGUAGES.forEach((code, i) => {
      if (i) nav.append(document.createTextNode(" | "));
      const button = document.createElement("button");
      Object.assign(button, { type: "button", textContent: code.toUpperCase(), lang: code, title: NAMES[code] });
      button.dataset.lang = code;
      button.setAttribute("aria-label", NAMES[code]);
      button.addEventListener("click", () => setLanguage(code, true));
      nav.append(button);
    });
    (document.querySelector("header") || document.body).append(nav);
  }

  // Show the page in `code`; `remember` stores the reader's choice for the next visit.
  function setLanguage(code, remember = false) {
    if (!LANGUAGES.includes(code)) return;
    if (remember) {
      try {
        window.localStorage.setItem(KEY, code);
      } catch (error) {
        // not stored: this visit still switches
      }
    }
    const changed = code !== current;
    current = code;
    document.documentElement.lang = code;
    for (const button of document.querySelectorAll("#lang-switch button")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === code));
    }
    applyStatic();
    if (changed) for (const listener of listeners) listener(code);
  }

  window.convcliI18n = {
    t,
    language: () => current,
    setLanguage,
    onChange: (listener) => listeners.push(listener),
  };
  collect();
  switchButtons();
  setLanguage(preferred());
})();
