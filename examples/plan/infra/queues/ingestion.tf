# Ingestion queue with retries and a dead-letter queue (SRE-05-01, SRE-05-02; ADR-0005).
resource "atlas_queue" "ingestion" {
  name                       = "ingestion-${var.env}"
  visibility_timeout_seconds = 300
  max_receive_count          = 5
  dead_letter_queue          = atlas_queue.ingestion_dlq.arn
}

resource "atlas_queue" "ingestion_dlq" {
  name                      = "ingestion-dlq-${var.env}"
  message_retention_seconds = 1209600
}

resource "atlas_alarm" "ingestion_dlq_depth" {
  metric      = "queue.depth"
  queue       = atlas_queue.ingestion_dlq.name
  threshold   = 0
  for_minutes = 15
}
