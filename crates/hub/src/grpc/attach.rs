//! `AttachmentService`: the wire face of [`crate::attach::Attachments`].

use tonic::{Request, Response, Status};
use tracing::{Instrument, info_span};
use yanpei_attach::{CHUNK_BYTES, Progress};
use yanpei_proto::pb::{self, attachment_service_server::AttachmentService};

use crate::attach::{Attachments, Chunk};
use crate::auth;

fn progress_to_pb(p: Progress) -> pb::AttachmentProgress {
    pb::AttachmentProgress { received: p.received, complete: p.complete, chunk_size: CHUNK_BYTES }
}

#[tonic::async_trait]
impl AttachmentService for Attachments {
    async fn attachment_status(
        &self,
        req: Request<pb::AttachmentStatusRequest>,
    ) -> Result<Response<pb::AttachmentProgress>, Status> {
        let school = auth::node_school(&req, &self.revoked)?;
        let span = info_span!("attachment_status", school_code = %school);
        let r = req.into_inner();
        self.status(school, &r.sha256, r.size)
            .instrument(span)
            .await
            .map(|p| Response::new(progress_to_pb(p)))
            .map_err(Status::from)
    }

    async fn put_chunk(
        &self,
        req: Request<pb::PutChunkRequest>,
    ) -> Result<Response<pb::AttachmentProgress>, Status> {
        let school = auth::node_school(&req, &self.revoked)?;
        let span = info_span!("put_chunk", school_code = %school);
        let r = req.into_inner();
        let chunk = Chunk {
            sha256: r.sha256,
            size: r.size,
            offset: r.offset,
            data: r.data,
            chunk_sha256: r.chunk_sha256,
        };
        self.put(school, chunk)
            .instrument(span)
            .await
            .map(|p| Response::new(progress_to_pb(p)))
            .map_err(Status::from)
    }
}
