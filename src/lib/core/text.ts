/** Text from elsewhere (a peer, a relay, a remote) in messages shown to people. */

/** One line of at most `max` characters: control characters and line separators become spaces. */
export function peerText(s: string, max = 300): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').slice(0, max);
}
