#include "server/api/attachments_service.h"

#include "server/api/call_auth.h"

namespace carerelay::api {

grpc::Status AttachmentsService::CreateUpload(grpc::ServerContext* context,
                                              const v1::CreateUploadRequest* request,
                                              v1::AttachmentInfo* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return attachments_->CreateUpload(c, *request); });
}

grpc::Status AttachmentsService::GetUpload(grpc::ServerContext* context,
                                           const v1::GetUploadRequest* request,
                                           v1::AttachmentInfo* response) {
  return WithDeviceResult(*context, *accounts_, response, [&](const store::DeviceRef& c) {
    return attachments_->Get(c, request->attachment_id());
  });
}

grpc::Status AttachmentsService::Upload(grpc::ServerContext* context,
                                        grpc::ServerReader<v1::UploadChunk>* reader,
                                        v1::AttachmentInfo* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& c) -> absl::Status {
    v1::UploadChunk chunk;
    if (!reader->Read(&chunk)) {
      return absl::InvalidArgumentError("an upload stream starts with the attachment id");
    }
    auto writer = attachments_->BeginUpload(c, chunk.attachment_id(), chunk.offset());
    if (!writer.ok()) return writer.status();
    do {
      absl::Status s = (*writer)->Append(chunk.data());
      if (!s.ok()) return s;
    } while (reader->Read(&chunk));
    if (context->IsCancelled()) {
      // The connection was cut: keep the whole blocks for the resume.
      absl::Status s = (*writer)->Abandon();
      return s.ok() ? absl::CancelledError("upload cut; resume from received_bytes") : s;
    }
    auto info = (*writer)->Finish();
    if (!info.ok()) return info.status();
    *response = *std::move(info);
    return absl::OkStatus();
  });
}

grpc::Status AttachmentsService::Download(grpc::ServerContext* context,
                                          const v1::DownloadRequest* request,
                                          grpc::ServerWriter<v1::DownloadChunk>* writer) {
  return WithDevice(
      *context, *accounts_, CallCost::kChange, [&](const store::DeviceRef& c) -> absl::Status {
        v1::DownloadChunk chunk;
        return attachments_->Download(c, request->attachment_id(), request->offset(),
                                      [&](uint64_t offset, absl::string_view data) {
                                        if (context->IsCancelled()) return false;
                                        chunk.set_offset(offset);
                                        chunk.mutable_data()->assign(data.data(), data.size());
                                        return writer->Write(chunk);
                                      });
      });
}

}  // namespace carerelay::api
