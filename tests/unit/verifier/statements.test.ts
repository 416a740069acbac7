/** How the verifier's statement lines are shaped for display (src/verifier/statements.ts). */
import { describe, expect, it } from 'vitest';
import { shapeStatements } from '../../../src/verifier/statements.ts';

describe('shapeStatements', () => {
  it('sections, items, continued items and sentences', () => {
    const shaped = shapeStatements([
      'About model.glb (sha256 ab).',
      'What the records say (each signed by its author):',
      '- model.glb was recorded as output of a generation.',
      '  settings claimed: training opt-out on.',
      '- It was exported.',
      'Proven (by signatures and hashes):',
      '- Ledger "Studio: <b>x</b>:" was created by Ada.',
      'Check this bundle yourself: open verify-offline.html.'
    ]);
    expect(shaped).toEqual([
      { blocks: [{ kind: 'text', text: 'About model.glb (sha256 ab).' }] },
      {
        head: 'What the records say (each signed by its author):',
        blocks: [
          {
            kind: 'list',
            items: [
              {
                text: 'model.glb was recorded as output of a generation.',
                more: ['settings claimed: training opt-out on.']
              },
              { text: 'It was exported.', more: [] }
            ]
          }
        ]
      },
      {
        head: 'Proven (by signatures and hashes):',
        blocks: [
          { kind: 'list', items: [{ text: 'Ledger "Studio: <b>x</b>:" was created by Ada.', more: [] }] },
          { kind: 'text', text: 'Check this bundle yourself: open verify-offline.html.' }
        ]
      }
    ]);
  });

  it('lines without sections or items: one list, indented lines continuing the one before', () => {
    expect(
      shapeStatements(['A was recorded.', '  settings: on.', 'Policy snapshot: terms.', 'B was witnessed.'])
    ).toEqual([
      {
        blocks: [
          {
            kind: 'list',
            items: [
              { text: 'A was recorded.', more: ['settings: on.'] },
              { text: 'Policy snapshot: terms.', more: [] },
              { text: 'B was witnessed.', more: [] }
            ]
          }
        ]
      }
    ]);
  });
});
