// Small helpers for the browser tests: polling assertions, axe, screenshots.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const axeSource = require('axe-core').source;

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export class Failure extends Error {}

/** Polls `fn` until it returns a truthy value, or fails with `what`. */
export async function until(what, fn, timeout = 15_000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Failure(`timed out after ${timeout} ms waiting for: ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Text of a locator with non-breaking spaces made plain (Monaco renders them). */
export async function text(locator) {
  return ((await locator.innerText({ timeout: 2_000 })) ?? '').replace(/\u00a0/g, ' ');
}

export async function expectText(locator, expected, what, timeout) {
  return until(`${what}: "${expected}"`, async () => (await text(locator)).includes(expected), timeout);
}

/** Runs axe-core; returns serious and critical violations as readable lines. */
export async function axe(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    (await window.axe.run(document, { resultTypes: ['violations'] })).violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    })),
  );
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Saves desktop and phone screenshots of the page and checks both with axe. */
export async function capture(page, dir, name, report) {
  mkdirSync(dir, { recursive: true });
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(size);
    await page.waitForTimeout(250);
    await page.screenshot({ path: join(dir, `${name}-${label}.png`), fullPage: true });
    for (const v of await axe(page)) {
      report.push(`${name} (${label}): ${v.impact} ${v.id} — ${v.help} at ${v.nodes.join(', ')}`);
    }
  }
  await page.setViewportSize(DESKTOP);
}
