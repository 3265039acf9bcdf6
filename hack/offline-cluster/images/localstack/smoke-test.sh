#!/bin/bash
# Run inside a fresh container of the image (docker exec -i NAME bash -s < smoke-test.sh): waits for
# health and for the ready.d hook mounted by lib/build-images.sh, then proves SNS -> SQS delivery.
set -euo pipefail
deadline=$((SECONDS + ${SMOKE_TIMEOUT:-180}))
until curl -fsS http://127.0.0.1:4566/_localstack/health 2>/dev/null | grep -q '"sqs"'; do
  ((SECONDS < deadline)) || { echo "smoke: health not answering" >&2; exit 1; }
  sleep 1
done
until curl -fsS http://127.0.0.1:4566/_localstack/init/ready 2>/dev/null | grep -q '"completed": true'; do
  ((SECONDS < deadline)) || { echo "smoke: ready.d hooks did not complete" >&2; exit 1; }
  sleep 1
done
awslocal sns list-topics --output text | grep -q ':smoke-from-hook' \
  || { echo "smoke: the ready.d hook did not create its topic" >&2; exit 1; }
topic=$(awslocal sns create-topic --name smoke-topic --query TopicArn --output text)
queue=$(awslocal sqs create-queue --queue-name smoke-queue --query QueueUrl --output text)
queue_arn=$(awslocal sqs get-queue-attributes --queue-url "${queue}" --attribute-names QueueArn \
  --query Attributes.QueueArn --output text)
awslocal sns subscribe --topic-arn "${topic}" --protocol sqs --notification-endpoint "${queue_arn}" \
  --attributes RawMessageDelivery=true >/dev/null
awslocal sns publish --topic-arn "${topic}" --message '{"smoke": 1}' >/dev/null
body=$(awslocal sqs receive-message --queue-url "${queue}" --wait-time-seconds 10 \
  --query 'Messages[0].Body' --output text)
[[ "${body}" == '{"smoke": 1}' ]] || { echo "smoke: received '${body}'" >&2; exit 1; }
echo "smoke: ok"
