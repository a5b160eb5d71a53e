//! The one mapping from store errors to etcd's gRPC status codes and messages
//! (etcd's `rpctypes`), so that etcd clients recognise them.

use tonic::{Code, Status};

use crate::error::KvError;

pub fn to_status(e: KvError) -> Status {
    let (code, message) = match &e {
        KvError::Compacted => (Code::OutOfRange, "etcdserver: mvcc: required revision has been compacted".to_string()),
        KvError::FutureRevision => {
            (Code::OutOfRange, "etcdserver: mvcc: required revision is a future revision".to_string())
        }
        KvError::EmptyKey => (Code::InvalidArgument, "etcdserver: key is not provided".to_string()),
        KvError::KeyNotFound => (Code::InvalidArgument, "etcdserver: key not found".to_string()),
        KvError::ValueProvided => (Code::InvalidArgument, "etcdserver: value is provided".to_string()),
        KvError::LeaseProvided => (Code::InvalidArgument, "etcdserver: lease is provided".to_string()),
        KvError::LeaseNotFound => (Code::NotFound, "etcdserver: requested lease not found".to_string()),
        KvError::LeaseExists => (Code::FailedPrecondition, "etcdserver: lease already exists".to_string()),
        KvError::LeaseTtlTooLarge => (Code::OutOfRange, "etcdserver: too large lease TTL".to_string()),
        KvError::TooManyOps => (Code::InvalidArgument, "etcdserver: too many operations in txn request".to_string()),
        KvError::DuplicateKey => (Code::InvalidArgument, "etcdserver: duplicate key given in txn request".to_string()),
        KvError::RequestTooLarge => (Code::InvalidArgument, "etcdserver: request is too large".to_string()),
        KvError::NoLeader => (Code::Unavailable, "etcdserver: no leader".to_string()),
        KvError::Stopped => (Code::Unavailable, "etcdserver: server stopped".to_string()),
        KvError::Unsupported(m) => (Code::Unimplemented, m.clone()),
        KvError::Storage(m) => (Code::Internal, format!("bramble: {m}")),
    };
    Status::new(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_etcds_code() {
        let cases = [
            (KvError::Compacted, Code::OutOfRange, "etcdserver: mvcc: required revision has been compacted"),
            (KvError::FutureRevision, Code::OutOfRange, "etcdserver: mvcc: required revision is a future revision"),
            (KvError::EmptyKey, Code::InvalidArgument, "etcdserver: key is not provided"),
            (KvError::KeyNotFound, Code::InvalidArgument, "etcdserver: key not found"),
            (KvError::ValueProvided, Code::InvalidArgument, "etcdserver: value is provided"),
            (KvError::LeaseProvided, Code::InvalidArgument, "etcdserver: lease is provided"),
            (KvError::LeaseNotFound, Code::NotFound, "etcdserver: requested lease not found"),
            (KvError::LeaseExists, Code::FailedPrecondition, "etcdserver: lease already exists"),
            (KvError::LeaseTtlTooLarge, Code::OutOfRange, "etcdserver: too large lease TTL"),
            (KvError::TooManyOps, Code::InvalidArgument, "etcdserver: too many operations in txn request"),
            (KvError::DuplicateKey, Code::InvalidArgument, "etcdserver: duplicate key given in txn request"),
            (KvError::RequestTooLarge, Code::InvalidArgument, "etcdserver: request is too large"),
            (KvError::NoLeader, Code::Unavailable, "etcdserver: no leader"),
            (KvError::Stopped, Code::Unavailable, "etcdserver: server stopped"),
            (KvError::Unsupported("x".into()), Code::Unimplemented, "x"),
            (KvError::Storage("disk".into()), Code::Internal, "bramble: disk"),
        ];
        for (err, code, message) in cases {
            let status = to_status(err.clone());
            assert_eq!((status.code(), status.message()), (code, message), "{err:?}");
        }
    }
}
