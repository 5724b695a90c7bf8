// `cargo xtask browser`: loads ordo's /docs in headless Chromium with every request to another
// origin blocked, and fails if the page tried to reach one, broke its Content-Security-Policy,
// or did not render the order routes. Usage: node docs.mjs BASE_URL SCREENSHOT_PATH
import { chromium } from 'playwright-core';

const [base, screenshot] = process.argv.slice(2);
const own = new URL(base).origin;
const outside = [];
const problems = [];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || url.startsWith('blob:') || new URL(url).origin === own) {
      return route.continue();
    }
    outside.push(url);
    return route.abort('blockedbyclient');
  });
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
      problems.push(`CSP: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
  const response = await page.goto(`${base}/docs`, { waitUntil: 'load' });
  if (response?.status() !== 200) problems.push(`/docs answered ${response?.status()}`);
  // The order routes, by their summaries in the OpenAPI document.
  for (const text of ['Place an order', 'Cancel an order']) {
    try {
      await page.getByText(text, { exact: false }).first().waitFor({ timeout: 30000 });
    } catch {
      problems.push(`the reference never showed "${text}"`);
    }
  }
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.screenshot({ path: screenshot, fullPage: false });
} finally {
  await browser.close();
}
for (const url of outside) problems.push(`the page asked another origin for ${url}`);
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`/docs rendered the order routes from ${own} alone; screenshot ${screenshot}`);
