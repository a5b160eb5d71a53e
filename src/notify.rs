//! systemd readiness (`Type=notify`): one datagram to $NOTIFY_SOCKET.

use std::os::unix::net::UnixDatagram;

/// Tells systemd the service is ready; does nothing outside systemd.
pub fn ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let sent = UnixDatagram::unbound().and_then(|sock| sock.send_to(b"READY=1\n", &path));
    if let Err(e) = sent {
        tracing::warn!("cannot notify systemd of readiness: {e}");
    }
}
