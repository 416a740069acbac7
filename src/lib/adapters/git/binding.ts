/**
 * What the journal needs from its platform: an isomorphic-git file system (Node's fs, or storageFs over a
 * StorageAdapter in the browser), the bare repository's path on it, and an HTTP client for remotes
 * (isomorphic-git/http/node or isomorphic-git/http/web).
 */
export interface GitFs {
  promises: {
    readFile(path: string, opts?: unknown): Promise<any>;
    writeFile(path: string, data: any, opts?: unknown): Promise<void>;
    unlink(path: string): Promise<void>;
    readdir(path: string): Promise<string[]>;
    mkdir(path: string, opts?: unknown): Promise<void>;
    rmdir(path: string): Promise<void>;
    stat(path: string): Promise<any>;
    lstat(path: string): Promise<any>;
    readlink?(path: string): Promise<any>;
    symlink?(target: string, path: string): Promise<void>;
    chmod?(path: string, mode: number): Promise<void>;
  };
}

/** zlib (RFC 1950) as git stores objects: Node's zlib, or CompressionStream in the browser (the default). */
export interface GitZlib {
  deflate(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  inflate(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * Inflates the zlib stream at the start of `data`, which is followed by other bytes (a pack entry), into at
   * most `max` bytes; says how many input bytes it took. Optional: pako does it otherwise (inflate.ts).
   */
  inflatePrefix?(data: Uint8Array, max: number): { data: Uint8Array; consumed: number };
}

export interface GitHttp {
  request(req: any): Promise<any>;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface GitBinding {
  fs: GitFs;
  /** The bare repository's directory on `fs` (e.g. DIR/journal.git). */
  gitdir: string;
  http?: GitHttp;
  /** Asked when a remote wants credentials (environment, prompt...); never stored. */
  credentials?: (url: string) => Promise<Credentials | undefined>;
  /** For CORS-less hosts in the browser: an isomorphic-git CORS proxy URL. */
  corsProxy?: string;
  /** Default: CompressionStream. */
  zlib?: GitZlib;
}
