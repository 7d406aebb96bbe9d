// The playground's behaviour: ask the server for tokens and show each one as it arrives.
//
// The server speaks OpenAI's API. A streamed request is answered with server-sent events,
//     data: {"choices": [{"text": "O", "logprobs": {...}}], ...}\n\n
// one per token, and a last `data: [DONE]`. The browser's EventSource can only GET, and these
// requests are POSTs, so the page reads the stream itself: fetch() gives a ReadableStream of
// bytes, a TextDecoder turns them into text, and a blank line ends each event.
"use strict";

const TOP_ALTERNATIVES = 5; // how many alternatives the server reports for each token

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("controls"),
  model: $("model"),
  mode: $("mode"),
  modeHint: $("mode-hint"),
  prompt: $("prompt"),
  maxTokens: $("max-tokens"),
  temperature: $("temperature"),
  topP: $("top-p"),
  topK: $("top-k"),
  seed: $("seed"),
  generate: $("generate"),
  stop: $("stop"),
  output: $("output"),
  status: $("status"),
  alternatives: $("alternatives"),
  promptTokens: $("prompt-tokens"),
  promptCount: $("prompt-count"),
  error: $("error"),
};

// What the page knows about the generation on screen: one entry per chip (see `stepOf`).
let steps = [];
let controller = null; // the AbortController of the request in flight, null when idle
let word = null; // the chips since the last space (see `addChip`)

// The panel's first words, kept to put back when a new generation clears it.
const alternativesHint = [...ui.alternatives.childNodes].map((node) => node.cloneNode(true));

// ------------------------------------------------------------------ talking to the server

/** The message of an OpenAI error body ({"error": {"message": ...}}), else the HTTP status. */
async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) {
    // not JSON: fall through to the status line
  }
  return `the server answered ${response.status} ${response.statusText}`.trim();
}

/** POST `body` as JSON to `path`; a non-2xx answer throws an Error with the server's message. */
async function post(path, body, signal) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw new Error(await errorMessage(response));
  return response;
}

/**
 * The `data:` payloads of a server-sent-events response, one string per event, as they arrive.
 * Bytes come in arbitrary pieces (a piece may end mid-event, even mid-character), so text is
 * buffered until a blank line closes an event; `stream: true` keeps a split UTF-8 character
 * in the decoder until its last byte comes.
 */
async function* serverSentEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const events = buffer.split(/\r?\n\r?\n/);
    buffer = events.pop(); // the last piece is an event not finished yet
    for (const event of events) {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data) yield data;
    }
  }
}

/** Fill the checkpoint picker from GET /v1/models. */
async function loadModels() {
  try {
    const response = await fetch("/v1/models");
    if (!response.ok) throw new Error(await errorMessage(response));
    const names = (await response.json()).data.map((model) => model.id);
    ui.model.replaceChildren(
      ...names.map((name) => new Option(name, name)),
    );
    if (names.length === 0) {
      ui.model.append(new Option("no runs yet", ""));
      showError("There is no trained run to offer yet: train one (make train), then reload.");
    }
    ui.model.dataset.loaded = String(names.length);
  } catch (error) {
    ui.model.replaceChildren(new Option("unavailable", ""));
    showError(`Could not list the runs: ${error.message}`);
  }
}

// ------------------------------------------------------------------ the request

/**
 * A number field's value, or undefined when it is blank (the server then uses its default).
 * The server judges every value (its error names the field); the page only catches text that
 * is no number at all, which a number field would otherwise report as blank.
 */
function numberOf(input) {
  if (input.validity.badInput) {
    const label = document.querySelector(`label[for="${input.id}"]`).textContent;
    throw new Error(`${label}: that is not a number`);
  }
  const text = input.value.trim();
  return text === "" ? undefined : Number(text);
}

/** The endpoint and JSON body for the form's settings. Undefined knobs drop out of the JSON. */
function request() {
  const knobs = {
    model: ui.model.value || undefined,
    max_tokens: numberOf(ui.maxTokens),
    temperature: numberOf(ui.temperature),
    top_p: numberOf(ui.topP),
    top_k: numberOf(ui.topK),
    seed: numberOf(ui.seed),
    stream: true,
  };
  if (ui.mode.value === "chat") {
    return {
      path: "/v1/chat/completions",
      body: {
        ...knobs,
        messages: [{ role: "user", content: ui.prompt.value }],
        logprobs: true,
        top_logprobs: TOP_ALTERNATIVES,
      },
    };
  }
  return {
    path: "/v1/completions",
    body: { ...knobs, prompt: ui.prompt.value, logprobs: TOP_ALTERNATIVES },
  };
}

/**
 * One streamed chunk as the page uses it, whichever endpoint sent it:
 *     {text, token: {text, logprob, bytes} | null, top: [{text, logprob, bytes}], finish}
 * `text` is what the chunk adds to the answer; it may differ from the token's own text (bytes
 * of an unfinished character, or a possible stop string, are held back). The last chunk has
 * no token, only the finish reason and any held-back text.
 */
function stepOf(chunk) {
  const choice = chunk.choices[0];
  const finish = choice.finish_reason;
  if ("delta" in choice) {
    // chat: logprobs.content is a list, each entry with its own list of alternatives
    const entry = choice.logprobs && choice.logprobs.content && choice.logprobs.content[0];
    const token = entry ? tokenOf(entry.token, entry.logprob, entry.bytes) : null;
    const top = entry
      ? entry.top_logprobs.map((alt) => tokenOf(alt.token, alt.logprob, alt.bytes))
      : [];
    return { text: choice.delta.content || "", token, top, finish };
  }
  // completions: parallel lists, and the alternatives as an object keyed by token text (two
  // tokens that print the same, such as two half-characters shown as U+FFFD, share one key)
  const lp = choice.logprobs;
  const token = lp && lp.tokens.length ? tokenOf(lp.tokens[0], lp.token_logprobs[0]) : null;
  const top = lp && lp.top_logprobs.length
    ? Object.entries(lp.top_logprobs[0])
      .map(([text, logprob]) => tokenOf(text, logprob))
      .sort((a, b) => b.logprob - a.logprob)
    : [];
  return { text: choice.text || "", token, top, finish };
}

function tokenOf(text, logprob, bytes = null) {
  return { text, logprob, prob: Math.exp(logprob), bytes };
}

// ------------------------------------------------------------------ drawing tokens

// Characters that would be invisible or move the layout, drawn as a glyph instead.
const GLYPHS = { " ": "·", "\n": "⏎", "\t": "⇥", "\r": "␍" };

/**
 * `text` as DOM nodes where whitespace can be seen: a space is a faint "·", a newline a "⏎",
 * other control characters their code (\x07), which no font can fail to draw. Text is only ever
 * inserted as text nodes, never as HTML, so a model that writes "<b>" shows "<b>".
 */
function visible(text) {
  const fragment = document.createDocumentFragment();
  let plain = "";
  const flush = () => {
    if (plain) fragment.append(plain);
    plain = "";
  };
  for (const char of text) {
    const code = char.codePointAt(0);
    const control = code < 0x20 || code === 0x7f;
    const glyph = GLYPHS[char] || (control ? `\\x${code.toString(16).padStart(2, "0")}` : null);
    if (glyph === null) {
      plain += char;
      continue;
    }
    flush();
    const mark = document.createElement("span");
    mark.className = control ? "ws ctl" : "ws";
    mark.textContent = glyph;
    fragment.append(mark);
  }
  flush();
  return fragment;
}

/** A probability as a percentage with sensible precision: 53.1%, 0.42%, <0.01%. */
function percent(p) {
  if (p >= 0.9995) return "100%";
  if (p >= 0.1) return `${(p * 100).toFixed(1)}%`;
  if (p >= 0.0001) return `${(p * 100).toFixed(2)}%`;
  return "<0.01%";
}

// The chips from one space to the next are a word, kept on one line (white-space: nowrap), so
// lines wrap between words as ordinary text does, never between "sun" and its ",". A run with
// no space at all is cut after this many chips, so that it cannot run off the edge.
const WORD_MOST = 8;

/** The word the next chip joins: a new one when its token starts with a space. */
function wordFor(tokenText) {
  if (!word || /^[ \t]/.test(tokenText) || word.childElementCount >= WORD_MOST) {
    word = document.createElement("span");
    word.className = "word";
    ui.output.append(word);
  }
  return word;
}

/** Add the chip of generated token number `index` (its step is steps[index]). */
function addChip(step, index) {
  const chip = document.createElement("span");
  chip.className = "chip";
  chip.tabIndex = 0; // reachable by Tab; focusing it shows its alternatives
  chip.dataset.index = String(index);
  chip.dataset.prob = step.token.prob.toFixed(6);
  chip.dataset.text = step.text; // what this token added to the answer text
  chip.style.setProperty("--p", step.token.prob.toFixed(4));
  chip.append(visible(step.token.text));
  wordFor(step.token.text).append(chip);
  step.chip = chip;
  // a newline in the token also breaks the line here, after its ⏎, and ends the word
  for (const char of step.token.text) {
    if (char !== "\n") continue;
    ui.output.append(document.createElement("br"));
    word = null;
  }
  // follow the stream, unless the reader has scrolled up to look at something
  const nearBottom =
    ui.output.scrollHeight - ui.output.scrollTop - ui.output.clientHeight < 60;
  if (nearBottom) ui.output.scrollTop = ui.output.scrollHeight;
}

/** The chip before or after `chip`, or null at either end. */
function neighbour(chip, forward) {
  const step = steps[Number(chip.dataset.index) + (forward ? 1 : -1)];
  return step ? step.chip : null;
}

/** The text of token `alt` for the panel; a U+FFFD token also shows its bytes, when known. */
function labelOf(alt) {
  const label = document.createElement("span");
  label.className = "tok";
  label.append(visible(alt.text));
  if (alt.bytes && alt.text.includes("\uFFFD")) {
    const hex = alt.bytes.map((b) => b.toString(16).toUpperCase().padStart(2, "0"));
    label.append(` ${hex.join(" ")}`);
  }
  label.title = JSON.stringify(alt.text);
  return label;
}

/**
 * The same token? By bytes where the server sent them (chat). Completions send only the text,
 * and tokens can share one (every half-character prints as U+FFFD), so there the probability
 * must match as well: the drawn token's log-probability is computed exactly as its entry's.
 */
function sameToken(a, b) {
  if (a.bytes && b.bytes) return a.bytes.join(",") === b.bytes.join(",");
  return a.text === b.text && Math.abs(a.logprob - b.logprob) < 1e-9;
}

/** One row of the alternatives list: token, bar, percentage. */
function altRow(label, prob, className) {
  const row = document.createElement("li");
  row.className = `alt ${className}`.trim();
  const bar = document.createElement("span");
  bar.className = "bar";
  const fill = document.createElement("span");
  fill.style.width = `${Math.max(0, Math.min(1, prob)) * 100}%`;
  bar.append(fill);
  const pct = document.createElement("span");
  pct.className = "pct";
  pct.textContent = percent(prob);
  row.append(label, bar, pct);
  return row;
}

/** Fill the alternatives panel with what the model weighed before drawing `chip`'s token. */
function showAlternatives(chip) {
  const step = steps[Number(chip.dataset.index)];
  if (!step) return;
  for (const other of ui.output.querySelectorAll(".chip.current")) {
    other.classList.remove("current");
  }
  chip.classList.add("current");

  const title = document.createElement("h3");
  title.textContent = `Token ${Number(chip.dataset.index) + 1} of ${steps.length}`;
  const drawn = document.createElement("p");
  drawn.className = "drawn";
  drawn.append(labelOf(step.token), ` drawn with ${percent(step.token.prob)}`);

  const list = document.createElement("ol");
  list.className = "alts";
  let shown = 0;
  let found = false;
  for (const alt of step.top) {
    const chosen = !found && sameToken(alt, step.token);
    found = found || chosen;
    list.append(altRow(labelOf(alt), alt.prob, chosen ? "chosen" : ""));
    if (chosen) list.lastChild.setAttribute("aria-current", "true");
    shown += alt.prob;
  }
  if (!found) {
    // drawn from outside the top few: show it anyway, marked as the choice
    list.append(altRow(labelOf(step.token), step.token.prob, "chosen"));
    shown += step.token.prob;
  }
  const rest = document.createElement("span");
  rest.className = "tok";
  rest.textContent = "the rest";
  if (1 - shown > 0.0005) list.append(altRow(rest, 1 - shown, "rest"));

  const parts = [title, drawn, list];
  const keyedByText = step.top.length > 0 && step.top[0].bytes === null;
  if (keyedByText && step.top.some((alt) => alt.text.includes("\uFFFD"))) {
    const note = document.createElement("p");
    note.className = "note";
    note.textContent =
      "Tokens that print as \uFFFD (part of a character) share one line here: completions " +
      "key the alternatives by their text. Chat mode lists each with its bytes.";
    parts.push(note);
  }
  if (step.text !== step.token.text) {
    const note = document.createElement("p");
    note.className = "note";
    if (step.ends) {
      note.textContent = "It ended the answer: a stop string (or end of text), left out of it.";
    } else if (step.text) {
      note.textContent =
        `It adds ${JSON.stringify(step.text)} to the text (with bytes held back before it).`;
    } else {
      note.textContent =
        "It adds nothing to the text yet: its bytes wait for the rest of a character, or " +
        "for what follows a possible stop string.";
    }
    parts.push(note);
  }
  ui.alternatives.replaceChildren(...parts);
}

/** Show how the prompt splits into tokens (POST /v1/tokenize), alternating colours. */
async function showPromptTokens(model, prompt) {
  try {
    const response = await post("/v1/tokenize", { model, prompt });
    const { ids, tokens } = await response.json();
    const chips = tokens.map((text, i) => {
      const chip = document.createElement("span");
      chip.className = "ptoken";
      chip.title = `token id ${ids[i]}`;
      chip.append(visible(text));
      return chip;
    });
    if (chips.length === 0) {
      const empty = document.createElement("span");
      empty.className = "placeholder";
      empty.textContent = "An empty prompt: generation starts from the start token.";
      chips.push(empty);
    }
    ui.promptTokens.replaceChildren(...chips);
    const chat = ui.mode.value === "chat" ? " (chat mode adds its template around them)" : "";
    ui.promptCount.textContent = `${tokens.length} token${tokens.length === 1 ? "" : "s"}${chat}`;
  } catch (error) {
    showError(`Could not tokenize the prompt: ${error.message}`);
  }
}

// ------------------------------------------------------------------ errors and state

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
}

/** Enable Generate or Stop, and record the state where tests and styles can read it. */
function setState(state, message) {
  const running = state === "running";
  ui.generate.disabled = running;
  ui.stop.disabled = !running;
  ui.output.dataset.state = state; // idle, running, done, stopped, error
  if (message !== undefined) ui.status.textContent = message;
}

// ------------------------------------------------------------------ one generation

/** Read the events of a streamed answer into chips; returns the finish reason. */
async function readStream(response) {
  let finish = null;
  for await (const data of serverSentEvents(response)) {
    if (data === "[DONE]") break;
    const step = stepOf(JSON.parse(data));
    if (step.token) {
      steps.push(step);
      addChip(step, steps.length - 1);
    } else if (step.text && steps.length) {
      // the last chunk's held-back text belongs to the tokens before it
      const last = steps[steps.length - 1];
      last.text += step.text;
      last.chip.dataset.text = last.text;
    }
    if (step.finish) finish = step.finish;
  }
  markEnding(finish);
  return finish;
}

/** "Done: 20 tokens in 0.31 s (64 tokens/s) · max tokens reached". */
function summary(finish, seconds) {
  const rate = steps.length / Math.max(seconds, 1e-3);
  const why = { length: "max tokens reached", stop: "the model stopped" }[finish] || finish;
  return `Done: ${steps.length} tokens in ${seconds.toFixed(2)} s ` +
    `(${rate.toFixed(0)} tokens/s) · ${why || "finished"}`;
}

/** Clear the previous generation off the page. */
function clearOutput() {
  clearError();
  steps = [];
  word = null;
  ui.output.replaceChildren();
  ui.alternatives.replaceChildren(...alternativesHint.map((node) => node.cloneNode(true)));
}

/** Generate: tokenize the prompt beside, stream the answer in, chip by chip. */
async function generate() {
  if (controller) return; // one request at a time
  clearOutput();
  let path, body;
  try {
    ({ path, body } = request());
  } catch (error) {
    setState("error", "Nothing was sent.");
    showError(error.message);
    return;
  }
  showPromptTokens(body.model, ui.prompt.value); // runs alongside the generation
  controller = new AbortController();
  setState("running", "Generating…");
  const started = performance.now();
  let answered = false; // did the server accept the request (and start streaming)?
  try {
    const response = await post(path, body, controller.signal);
    answered = true;
    const finish = await readStream(response);
    setState("done", summary(finish, (performance.now() - started) / 1000));
  } catch (error) {
    if (error.name === "AbortError") {
      setState("stopped", `Stopped after ${steps.length} tokens.`);
    } else if (answered) {
      setState("error", `The stream broke off after ${steps.length} tokens.`);
      showError(`The answer broke off: ${error.message}`);
    } else {
      setState("error", "The request was refused.");
      // fetch() throws a TypeError when no server answers at all
      const unreachable = error instanceof TypeError;
      showError(unreachable ? `Could not reach the server (${error.message}).` : error.message);
    }
  } finally {
    controller = null;
  }
  if (steps.length === 0 && ui.output.dataset.state === "done") {
    const none = document.createElement("span");
    none.className = "placeholder";
    none.textContent = "No tokens: the model ended the text at once.";
    ui.output.append(none);
  }
}

/** A generation that stopped on a stop string: its last token is left out of the text. */
function markEnding(finish) {
  const last = steps[steps.length - 1];
  if (finish !== "stop" || !last || last.text !== "") return;
  last.ends = true;
  last.chip.classList.add("ending");
}

function stop() {
  if (controller) controller.abort(); // the server notices and frees the model within a step
}

// ------------------------------------------------------------------ wiring

ui.form.addEventListener("submit", (event) => {
  event.preventDefault(); // the page handles the request; the form never navigates
  generate();
});
ui.stop.addEventListener("click", stop);

ui.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    generate();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") stop();
});

ui.mode.addEventListener("change", () => {
  ui.modeHint.textContent =
    ui.mode.value === "chat"
      ? "POST /v1/chat/completions: the prompt is the user's message"
      : "POST /v1/completions";
});

// A chip shows its alternatives when hovered, focused (Tab) or clicked. One listener on the
// output serves every chip, including the ones that have not streamed in yet.
function chipOf(event) {
  return event.target instanceof Element ? event.target.closest(".chip") : null;
}
for (const kind of ["mouseover", "focusin", "click"]) {
  ui.output.addEventListener(kind, (event) => {
    const chip = chipOf(event);
    if (chip) showAlternatives(chip);
  });
}
// ← and → move between chips, so a keyboard user need not Tab through each one.
ui.output.addEventListener("keydown", (event) => {
  const chip = chipOf(event);
  if (!chip || (event.key !== "ArrowLeft" && event.key !== "ArrowRight")) return;
  const target = neighbour(chip, event.key === "ArrowRight");
  if (target) {
    event.preventDefault();
    target.focus();
  }
});

loadModels();
