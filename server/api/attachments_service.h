// carerelay.v1.Attachments over core::Attachments. Translation only.
// Upload and Download are synchronous streaming handlers: each holds a
// thread while it moves bytes, which bounds concurrent transfers by the
// server's thread pool rather than by memory. Thread-safe.
#ifndef CARERELAY_SERVER_API_ATTACHMENTS_SERVICE_H_
#define CARERELAY_SERVER_API_ATTACHMENTS_SERVICE_H_

#include "carerelay/v1/attachments.grpc.pb.h"
#include "server/core/account_registry.h"
#include "server/core/attachments.h"

namespace carerelay::api {

class AttachmentsService final : public v1::Attachments::Service {
 public:
  AttachmentsService(const core::AccountRegistry* accounts, core::Attachments* attachments)
      : accounts_(accounts), attachments_(attachments) {}

  grpc::Status CreateUpload(grpc::ServerContext* context, const v1::CreateUploadRequest* request,
                            v1::AttachmentInfo* response) override;
  grpc::Status GetUpload(grpc::ServerContext* context, const v1::GetUploadRequest* request,
                         v1::AttachmentInfo* response) override;
  grpc::Status Upload(grpc::ServerContext* context, grpc::ServerReader<v1::UploadChunk>* reader,
                      v1::AttachmentInfo* response) override;
  grpc::Status Download(grpc::ServerContext* context, const v1::DownloadRequest* request,
                        grpc::ServerWriter<v1::DownloadChunk>* writer) override;

 private:
  const core::AccountRegistry* accounts_;
  core::Attachments* attachments_;
};

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_ATTACHMENTS_SERVICE_H_
