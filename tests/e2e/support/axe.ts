/**
 * axe-core (the npm package) run in the page: the serious and critical violations. Evaluated through the DevTools
 * protocol (page.evaluate of its source), which the page's strict CSP does not govern (a11y.e2e.ts explains why
 * and checks that the CSP refuses it as an inline script).
 */
import type { Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
export const AXE_SOURCE = readFileSync(AXE_PATH, 'utf8');

export interface Finding {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/** Runs axe on the page as it is; returns the serious and critical violations. */
export async function audit(page: Page): Promise<Finding[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            ctx: Document,
            opts: object
          ): Promise<{
            violations: { id: string; impact: string; help: string; nodes: { target: string[]; html: string }[] }[];
          }>;
        };
      }
    ).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.html.slice(0, 160)}`)
      }));
  });
}
