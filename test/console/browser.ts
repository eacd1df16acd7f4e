// Browser harness for the console tests: Debian's chromium driven by playwright-core, one browser per test file,
// a laptop-sized page per test, screenshots under test-results/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

export const RESULTS_DIR = fileURLToPath(new URL('../../test-results/', import.meta.url));

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function openPage(
  browser: Browser,
  opts: { theme?: 'light' | 'dark'; token?: string } = {},
): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    colorScheme: opts.theme ?? 'light',
    acceptDownloads: true,
  });
  if (opts.token) {
    await context.addInitScript((t) => localStorage.setItem('vigil.token', t), opts.token);
  }
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  (page as Page & { errors: string[] }).errors = errors;
  return page;
}

/** Uncaught errors the page raised (a console that throws fails its test). */
export function pageErrors(page: Page): string[] {
  return (page as Page & { errors?: string[] }).errors ?? [];
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS_DIR, `console-${name}.png`) });
}

/** Waits until the list and the trend chart have both loaded the view now in the URL (not a previous one). */
export async function loaded(page: Page): Promise<void> {
  // Runs in the page; this file is type-checked without the DOM's types, hence the narrow casts.
  await page.waitForFunction(() => {
    type El = { dataset: Record<string, string | undefined> } | null;
    const g = globalThis as unknown as { document: { querySelector(s: string): El }; location: { search: string } };
    const done = (el: El) => el?.dataset.loading === 'false' && (el.dataset.key ?? '') === g.location.search;
    return done(g.document.querySelector('.results')) && done(g.document.querySelector('.trend-card'));
  });
}

/** The console's total ("N events"), once loaded. */
export async function total(page: Page): Promise<number> {
  await loaded(page);
  return Number((await page.getByTestId('total').textContent())?.replace(/,/g, ''));
}

/** The text of one column in every rendered row. */
export async function column(page: Page, cls: string): Promise<string[]> {
  return page.$$eval(`.vlist .row .${cls}`, (els) => els.map((e) => (e.textContent ?? '').trim()));
}
