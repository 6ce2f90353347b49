// sd_notify(3) for `Type=notify` units (deploy/search-sync.service): one datagram to the Unix
// socket systemd names in $NOTIFY_SOCKET, e.g. "READY=1" once the service listens. Neither Bun nor
// Node can send a Unix datagram (node:dgram is UDP only), so the three libc calls go through
// bun:ffi. Without $NOTIFY_SOCKET (not under systemd, or another Type) nothing is done.
import { dlopen, FFIType, ptr } from "bun:ffi";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
// struct sockaddr_un: sa_family_t (2 bytes), then sun_path[108].
const SUN_PATH_MAX = 108;

type Libc = ReturnType<typeof openLibc>;
let libc: Libc | null = null;

function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  }).symbols;
}

/** The sockaddr_un of a $NOTIFY_SOCKET value: a path, or `@name` for the abstract namespace. */
function socketAddress(socketPath: string): { address: Uint8Array; length: number } | null {
  const name = Buffer.from(socketPath.startsWith("@") ? `\0${socketPath.slice(1)}` : socketPath);
  if (name.length === 0 || name.length >= SUN_PATH_MAX) return null;
  const address = new Uint8Array(2 + SUN_PATH_MAX);
  new DataView(address.buffer).setUint16(0, AF_UNIX, true);
  address.set(name, 2);
  // An abstract name is exactly its bytes; a path also carries its terminating NUL.
  return { address, length: 2 + name.length + (socketPath.startsWith("@") ? 0 : 1) };
}

/**
 * Sends `state` ("READY=1", "STOPPING=1", "STATUS=…", lines joined by "\n") to systemd. Returns
 * whether it was sent; false without $NOTIFY_SOCKET or when the socket cannot be reached (a
 * notification must never stop the service).
 */
export function notifySystemd(state: string, socketPath = process.env.NOTIFY_SOCKET): boolean {
  if (!socketPath || process.platform !== "linux") return false;
  const target = socketAddress(socketPath);
  if (!target) return false;
  try {
    libc ??= openLibc();
    const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    try {
      const message = Buffer.from(state);
      const sent = libc.sendto(fd, ptr(message), message.length, MSG_NOSIGNAL, ptr(target.address), target.length);
      return Number(sent) === message.length;
    } finally {
      libc.close(fd);
    }
  } catch {
    return false;
  }
}
