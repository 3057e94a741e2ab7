// Browser tests of the live UI and the playground, in Debian's headless Chromium driven by
// playwright-core. Two contexts play Ada and Bob; everything they see of each other arrives
// without a reload. Usage:
//   PLATFORM_URL=http://127.0.0.1:4000 SCREENSHOT_DIR=/tmp/shots node web/e2e/run.mjs
// Exits non-zero, naming the failed step, on any failure. With SAFELIST=1 the router runs
// only the UI's persisted documents: the UI flows run unchanged, the playground (which sends
// text) is left out, and a document of anyone else's must be refused.
// In both modes every request the UI sends must carry a persisted id, never document text.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { DESKTOP, Failure, capture, expectText, text, until } from './lib.mjs';

const BASE = (process.env.PLATFORM_URL ?? 'http://127.0.0.1:4000').replace(/\/$/, '');
const SHOTS = process.env.SCREENSHOT_DIR ?? join(tmpdir(), 'platform-screenshots');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const origin = new URL(BASE).origin;
const run = Date.now().toString(36);
const password = 'correct horse battery staple';
const ada = { name: 'Ada', email: `ada-${run}@example.com` };
const bob = { name: 'Bob', email: `bob-${run}@example.com` };
const boardName = `Launch ${run}`;
const SAFELIST = process.env.SAFELIST === '1';
const a11y = [];
const problems = [];
let persistedRequests = 0;

// playwright-core launches Chromium with a fresh temporary --user-data-dir of its own (it
// refuses the flag in `args`); Ada and Bob get separate contexts (cookies, storage) in it.
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

/** A context whose pages may only talk to the platform: anything else is a failure. */
async function newPage(who) {
  const context = await browser.newContext({ viewport: DESKTOP });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    problems.push(`${who}: request to another origin: ${url}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`${who}: uncaught error in the page: ${e.message}`));
  if (who !== 'playground') watchDocuments(page, who);
  return page;
}

/** The UI sends ids only: over HTTP (POST bodies) and over graphql-ws (`subscribe`). */
function watchDocuments(page, who) {
  const check = (payload, where) => {
    const id = payload?.extensions?.persistedQuery?.sha256Hash;
    if (payload?.query || !/^[0-9a-f]{64}$/.test(id ?? '')) {
      problems.push(`${who}: ${where} without a persisted id or with text: ${JSON.stringify(payload).slice(0, 200)}`);
    } else {
      persistedRequests += 1;
    }
  };
  page.on('request', (request) => {
    if (request.method() !== 'POST' || new URL(request.url()).pathname !== '/graphql') return;
    check(request.postDataJSON(), 'POST /graphql');
  });
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => {
      const message = typeof payload === 'string' ? JSON.parse(payload) : null;
      if (message?.type === 'subscribe') check(message.payload, 'graphql-ws subscribe');
    });
  });
}

let current = '';
async function step(name, fn) {
  current = name;
  const t = Date.now();
  await fn();
  console.log(`ok   ${name} (${Date.now() - t} ms)`);
}

const column = (page, status) => page.locator(`section.column[data-status="${status}"]`);
const card = (page, title) => page.locator(`article.task:has(h3:text-is("${title}"))`);
const unread = (page) => page.getByTestId('unread-count');
const count = async (page) => Number(await text(unread(page)));
const messages = (page) =>
  page.locator('.messages li[data-seq] .body').allInnerTexts();

async function signUp(page, user) {
  await page.goto(`${BASE}/#/signup`);
  await page.locator('#name').fill(user.name);
  await page.locator('#email').fill(user.email);
  await page.locator('#password').fill(password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expectText(page.getByTestId('me'), user.name, `${user.name} signed in`);
  await expectText(page.getByTestId('connection'), 'Live', `${user.name}'s live connection`);
}

async function main() {
  const adaPage = await newPage('Ada');
  const bobPage = await newPage('Bob');
  let taskTitle = `Write the launch plan ${run}`;

  await step('sign-in page: a wrong password and a lost network are explained', async () => {
    const page = await newPage('anonymous');
    await page.goto(`${BASE}/`);
    await capture(page, SHOTS, 'sign-in', a11y);
    await page.locator('#email').fill(`nobody-${run}@example.com`);
    await page.locator('#password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.getByRole('alert'), 'Wrong email or password', 'the sign-in error');
    await page.context().setOffline(true);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.getByRole('alert'), 'Cannot reach the server', 'the network error');
    await page.context().setOffline(false);
    await page.goto(`${BASE}/#/signup`);
    await capture(page, SHOTS, 'sign-up', a11y);
    await page.context().close();
  });

  await step('Bob and Ada sign up', async () => {
    await signUp(bobPage, bob);
    await signUp(adaPage, ada);
    await capture(bobPage, SHOTS, 'boards-empty', a11y);
  });

  await step('Ada creates a board and adds Bob by email', async () => {
    await adaPage.locator('#board-name').fill(boardName);
    await adaPage.locator('#board-description').fill('Everything for the launch');
    await adaPage.getByRole('button', { name: 'Create board' }).click();
    await expectText(adaPage.locator('h1#board-title'), boardName, "Ada's board view");
    await adaPage.locator('#add-member').fill(bob.email);
    await adaPage.getByRole('button', { name: 'Add member' }).click();
    await expectText(adaPage.locator('.members'), 'Bob can now see this board', 'Bob added');
  });

  await step('someone who is not a member is told so, not shown raw errors', async () => {
    const page = await newPage('Eve');
    await signUp(page, { name: 'Eve', email: `eve-${run}@example.com` });
    await page.goto(adaPage.url());
    await expectText(page.getByRole('alert'), "You don't have permission", 'the forbidden error');
    await capture(page, SHOTS, 'forbidden', a11y);
    await page.context().close();
  });

  await step('Bob sees the board appear and his bell count rise, without a reload', async () => {
    await until('the board in Bob\'s list', () => bobPage.getByRole('link', { name: boardName }).isVisible());
    await until('Bob\'s unread count to be 1', async () => (await count(bobPage)) === 1);
    await capture(bobPage, SHOTS, 'boards', a11y);
    await bobPage.getByRole('link', { name: boardName }).click();
    await expectText(bobPage.locator('h1#board-title'), boardName, "Bob's board view");
    // The taskChanged subscription is set up on mount; give the router a moment to open it.
    await bobPage.waitForTimeout(1500);
  });

  await step('Ada creates a task assigned to Bob; it appears on Bob\'s board and his bell rises', async () => {
    const before = await count(bobPage);
    await adaPage.locator('#task-title').fill(taskTitle);
    await adaPage.locator('#task-priority').selectOption('HIGH');
    await adaPage.locator('#task-assignee').selectOption({ label: 'Bob' });
    await adaPage.getByRole('button', { name: 'Add task' }).click();
    await until('the task in Ada\'s To do column', () => column(adaPage, 'TODO').locator(card(adaPage, taskTitle)).isVisible());
    await until('the task in Bob\'s To do column', () => card(bobPage, taskTitle).isVisible());
    await until('the task to be in To do for Bob', () => column(bobPage, 'TODO').locator(`h3:text-is("${taskTitle}")`).isVisible());
    await until(`Bob's unread count to rise above ${before}`, async () => (await count(bobPage)) > before);
    await capture(bobPage, SHOTS, 'board', a11y);
  });

  await step('Bob drags the task to In progress with the mouse; Ada sees it move', async () => {
    const source = card(bobPage, taskTitle);
    const target = column(bobPage, 'IN_PROGRESS').locator('ul');
    const s = await source.boundingBox();
    const t = await target.boundingBox();
    await bobPage.mouse.move(s.x + s.width / 2, s.y + 12);
    await bobPage.mouse.down();
    await bobPage.mouse.move(s.x + s.width / 2 + 20, s.y + 20, { steps: 5 });
    await bobPage.mouse.move(t.x + t.width / 2, t.y + t.height / 2, { steps: 10 });
    await bobPage.mouse.up();
    await until('the task in Bob\'s In progress column', () =>
      column(bobPage, 'IN_PROGRESS').locator(`h3:text-is("${taskTitle}")`).isVisible());
    await until('the task in Ada\'s In progress column', () =>
      column(adaPage, 'IN_PROGRESS').locator(`h3:text-is("${taskTitle}")`).isVisible());
  });

  await step('Ada moves it to In review with the keyboard; Bob sees it move', async () => {
    await card(adaPage, taskTitle).focus();
    await adaPage.keyboard.press('Shift+ArrowRight');
    await until('the task in Ada\'s In review column', () =>
      column(adaPage, 'IN_REVIEW').locator(`h3:text-is("${taskTitle}")`).isVisible());
    await until('focus to stay on the moved card', () =>
      adaPage.evaluate(() => document.activeElement?.classList.contains('task')));
    await until('the task in Bob\'s In review column', () =>
      column(bobPage, 'IN_REVIEW').locator(`h3:text-is("${taskTitle}")`).isVisible());
  });

  await step('a deleted task disappears for both', async () => {
    const doomed = `Scratch ${run}`;
    await adaPage.locator('#task-title').fill(doomed);
    await adaPage.locator('#task-assignee').selectOption('');
    await adaPage.getByRole('button', { name: 'Add task' }).click();
    await until('the scratch task for Bob', () => card(bobPage, doomed).isVisible());
    await card(adaPage, doomed).getByRole('button', { name: /Delete/ }).click();
    await until('the scratch task gone for Ada', async () => (await card(adaPage, doomed).count()) === 0);
    await until('the scratch task gone for Bob', async () => (await card(bobPage, doomed).count()) === 0);
  });

  await step('Ada and Bob chat; each sees the other\'s messages in order', async () => {
    const lines = [
      ['Ada', `Hi @Bob, the plan is ready ${run}`],
      ['Bob', `Thanks @Ada, reading it now ${run}`],
      ['Ada', `Ping me when done ${run}`],
      ['Bob', `Done ${run}`],
    ];
    const bobUnread = await count(bobPage);
    for (const [who, body] of lines) {
      const page = who === 'Ada' ? adaPage : bobPage;
      await page.locator('#chat-input').fill(body);
      await page.locator('#chat-input').press('Enter');
      for (const p of [adaPage, bobPage]) {
        await until(`"${body}" in both rooms`, async () => (await messages(p)).some((m) => m.includes(body)));
      }
    }
    const want = lines.map(([, b]) => b);
    for (const [who, p] of [['Ada', adaPage], ['Bob', bobPage]]) {
      const got = (await messages(p)).filter((m) => m.endsWith(run));
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        throw new Failure(`${who}'s messages out of order: ${JSON.stringify(got)}`);
      }
    }
    await until('the @Bob mention highlighted', () => bobPage.locator('mark.mention.me').first().isVisible());
    await until('Bob\'s bell counting the mention', async () => (await count(bobPage)) > bobUnread);
    await capture(adaPage, SHOTS, 'board-chat', a11y);
  });

  await step('Bob opens the bell and marks everything read', async () => {
    await bobPage.getByRole('button', { name: /Notifications, \d+ unread/ }).click();
    await until('notifications listed', async () => (await bobPage.locator('ul.notifications li').count()) >= 3);
    await capture(bobPage, SHOTS, 'notifications', a11y);
    await bobPage.getByRole('button', { name: 'Mark all read' }).click();
    await until('Bob\'s unread count to be 0', async () => (await count(bobPage)) === 0);
  });

  async function playground() {
    await step('the playground runs a query', async () => {
      const page = await newPage('playground');
      await page.goto(`${BASE}/graphql?query=${encodeURIComponent('query PlaygroundMe {\n  me {\n    name\n    email\n  }\n}\n')}`);
      await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
      await playgroundSignIn(page);
      await page.locator('.graphiql-execute-button').click();
      await expectText(page.locator('.graphiql-response'), ada.email, 'the me query answered in the playground', 20_000);
      await capture(page, SHOTS, 'playground', a11y);
      await page.context().close();
    });

    await step('the playground runs a subscription', async () => {
      const page = await newPage('playground');
      const boardId = decodeURIComponent(new URL(adaPage.url()).hash.split('/').pop());
      const query = 'subscription PlaygroundTasks($boardId: ID!) {\n  taskChanged(boardId: $boardId) {\n    kind\n    task { title status }\n  }\n}\n';
      await page.goto(`${BASE}/graphql?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(JSON.stringify({ boardId }))}`);
      await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
      await playgroundSignIn(page);
      await page.locator('.graphiql-execute-button').click();
      await page.waitForTimeout(1500);
      const live = `Playground-${run}`;
      await adaPage.locator('#task-title').fill(live);
      await adaPage.getByRole('button', { name: 'Add task' }).click();
      await expectText(page.locator('.graphiql-response'), live, 'the subscription event in the playground', 20_000);
      await page.context().close();
    });

    async function playgroundSignIn(page) {
      await page.getByRole('button', { name: /Sign in/ }).first().click();
      await page.locator('#pg-email').fill(ada.email);
      await page.locator('#pg-password').fill(password);
      await page.locator('#pg-signin').click();
      await expectText(page.locator('.pg-status'), 'Signed in as Ada', 'the playground sign-in helper');
    }
  }

  if (SAFELIST) {
    await step('the safelisting router refuses a document that is not the UI\'s', async () => {
      const res = await fetch(`${BASE}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      const body = await res.json();
      const code = body.errors?.[0]?.extensions?.code;
      if (res.status !== 403 || code !== 'PERSISTED_QUERY_NOT_IN_LIST') {
        throw new Failure(`expected 403 PERSISTED_QUERY_NOT_IN_LIST, got ${res.status} ${JSON.stringify(body)}`);
      }
    });
  } else {
    await playground();
  }

  await step('a reload keeps Bob signed in (refresh token rotation)', async () => {
    await bobPage.reload();
    await expectText(bobPage.getByTestId('me'), 'Bob', 'Bob still signed in after a reload');
    await expectText(bobPage.locator('h1#board-title'), boardName, "Bob's board view after a reload");
    await expectText(bobPage.getByTestId('connection'), 'Live', "Bob's live connection after a reload");
  });

  await step('a dropped connection says so and comes back', async () => {
    const ctx = bobPage.context();
    await ctx.setOffline(true);
    const saw = await until('Bob\'s status to say Reconnecting…', async () =>
      (await text(bobPage.getByTestId('connection'))).includes('Reconnecting'), 25_000).catch((e) => e);
    await ctx.setOffline(false);
    if (saw instanceof Error) throw saw;
    await expectText(bobPage.getByTestId('connection'), 'Live', 'Bob live again', 30_000);
  });

  await step('Ada signs out', async () => {
    await adaPage.getByRole('button', { name: 'Sign out' }).click();
    await adaPage.getByRole('heading', { name: 'Sign in' }).waitFor();
    await adaPage.reload();
    await adaPage.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  await step('every operation the UI sent was a persisted id', async () => {
    if (persistedRequests < 10) throw new Failure(`only ${persistedRequests} UI requests seen`);
  });

  await step('no serious or critical axe violation on any page', async () => {
    if (a11y.length) throw new Failure(`axe found serious or critical violations:\n  ${a11y.join('\n  ')}`);
  });
}

mkdirSync(SHOTS, { recursive: true });
let failed = false;
try {
  await main();
  if (problems.length) throw new Failure(problems.join('\n  '));
  console.log(`all browser tests passed; screenshots in ${SHOTS}`);
} catch (e) {
  failed = true;
  console.error(`FAILED: ${current}\n  ${e instanceof Failure ? e.message : e.stack ?? e}`);
  if (problems.length) console.error(`also:\n  ${problems.join('\n  ')}`);
  for (const [i, ctx] of browser.contexts().entries()) {
    for (const [j, p] of ctx.pages().entries()) {
      await p.screenshot({ path: join(SHOTS, `failure-${i}-${j}.png`) }).catch(() => undefined);
    }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
