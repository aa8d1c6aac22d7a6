"""A local stand-in for the SQS event source: receive, invoke the app's SQS handler, delete
what succeeded (what failed comes back after the visibility timeout, as on AWS)."""
from __future__ import annotations

import boto3

from chalicelib import config


def _handler():
    import app as chrono
    return getattr(chrono, 'deliver_callbacks', None)


def pump(wait_seconds: int = 1) -> int:
    """Handle one batch; returns how many messages were received."""
    handler = _handler()
    sqs = boto3.client('sqs')
    queue_url = sqs.get_queue_url(QueueName=config.settings().callback_queue_name)['QueueUrl']
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
                                   AttributeNames=['All'], MessageAttributeNames=['All']).get('Messages', [])
    if not received or handler is None:
        return len(received)
    records = [{'messageId': m['MessageId'], 'receiptHandle': m['ReceiptHandle'], 'body': m['Body'],
                'attributes': m.get('Attributes', {}), 'messageAttributes': m.get('MessageAttributes', {}),
                'eventSource': 'aws:sqs', 'eventSourceARN': f'arn:aws:sqs:local:000000000000:{queue_url}'}
               for m in received]
    result = handler({'Records': records}, None) or {}
    failed = {f['itemIdentifier'] for f in result.get('batchItemFailures', [])}
    for message in received:
        if message['MessageId'] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message['ReceiptHandle'])
    return len(received)


def sweep() -> int:
    """What the scheduled `sweep_callbacks` does on AWS: queue the pending callbacks that are due."""
    from chalicelib.services import callbacks
    from chalicelib.web import api as http
    return callbacks.sweep(http.utcnow())


def send_messages() -> dict:
    """What the scheduled `send_reminders` does on AWS: send the reminders and notices that are due."""
    from chalicelib.services import reminders
    from chalicelib.web import api as http
    return reminders.send_due(http.utcnow())
