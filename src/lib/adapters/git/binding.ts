/**
 * What the journal needs from its platform: an isomorphic-git file system (Node's fs, or storageFs over a
 * StorageAdapter in the browser), the bare repository's path on it, and an HTTP client for remotes
 * (isomorphic-git/http/node or isomorphic-git/http/web).
 */
/** What stat and lstat give (Node's fs.Stats has it; so does idb-fs.ts). */
export interface GitStat {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  mode: number;
  size: number;
  mtimeMs: number;
}

/** A text encoding for readFile: Node's name ('utf8') or its options object. */
export type GitFsEncoding = 'utf8' | 'utf-8' | { encoding: 'utf8' | 'utf-8' };

export interface GitFs {
  promises: {
    /** The file's bytes; with an encoding, its text. */
    readFile(path: string): Promise<Uint8Array>;
    readFile(path: string, opts: GitFsEncoding): Promise<string>;
    writeFile(path: string, data: Uint8Array | string, opts?: unknown): Promise<void>;
    unlink(path: string): Promise<void>;
    readdir(path: string): Promise<string[]>;
    mkdir(path: string, opts?: unknown): Promise<void>;
    rmdir(path: string): Promise<void>;
    stat(path: string): Promise<GitStat>;
    lstat(path: string): Promise<GitStat>;
    readlink?(path: string, opts?: unknown): Promise<string | Uint8Array>;
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

/** One HTTP request as smart-http.ts sends it (the shape isomorphic-git's HTTP clients take). */
export interface GitHttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** The body's chunks. */
  body?: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

/** Its answer (the shape isomorphic-git's HTTP clients give). */
export interface GitHttpResponse {
  url: string;
  method?: string;
  statusCode: number;
  statusMessage: string;
  headers?: Record<string, string>;
  body?: AsyncIterable<Uint8Array>;
}

export interface GitHttp {
  request(req: GitHttpRequest): Promise<GitHttpResponse>;
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
