#!/usr/bin/env python3
"""Subscribes to auditstream with grpcio and prints each event as one JSON line.

No generated stubs: the message classes are built at run time from the descriptor set the server's
reflection also serves (generated/audit/v1/descriptor.binpb), so Debian's python3-grpcio (which brings
python3-protobuf) is all it needs. When the stream is lost (UNAVAILABLE: server down or restarting) it
reconnects with exponential backoff and resumes with after_cursor from the last event it printed, so
no event is missed or printed twice. Logs go to stderr; stdout carries only events.
"""
import argparse
import json
import os
import random
import signal
import sys
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

DEFAULT_DESCRIPTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'generated', 'audit', 'v1', 'descriptor.binpb')
SUBSCRIBE = '/audit.v1.AuditService/Subscribe'


def log(message):
    print(f'subscribe.py: {message}', file=sys.stderr, flush=True)


def message_classes(path, *names):
    """The classes of `names`, built from a FileDescriptorSet (files in dependency order, as buf writes them)."""
    files = descriptor_pb2.FileDescriptorSet()
    with open(path, 'rb') as f:
        files.ParseFromString(f.read())
    # A pool of our own: the set carries google/protobuf/{struct,timestamp}.proto, which the default
    # pool already holds (perhaps built from other bytes), and adding them there could conflict.
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.AddSerializedFile(file.SerializeToString())
    descriptors = [pool.FindMessageTypeByName(name) for name in names]
    if hasattr(message_factory, 'GetMessageClass'):  # protobuf >= 4.22
        return [message_factory.GetMessageClass(d) for d in descriptors]
    factory = message_factory.MessageFactory(pool)  # protobuf 3.x / 4.21 (Debian 12)
    return [factory.GetPrototype(d) for d in descriptors]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--server', default='127.0.0.1:50051', help='host:port of the gRPC server')
    p.add_argument('--after-cursor', default='', help='resume after this cursor (an event\'s cursor); default: live from now')
    p.add_argument('--token', default=os.environ.get('AUDITSTREAM_TOKEN', ''), help='bearer token (default $AUDITSTREAM_TOKEN)')
    p.add_argument('--ca', help='PEM file of the CA that signed the server certificate: connect with TLS')
    p.add_argument('--type', action='append', default=[], dest='types', help='an event type to receive, e.g. EVENT_TYPE_LOGIN_FAILED (repeatable)')
    p.add_argument('--expression', default='', help='a CEL filter expression over `event`')
    p.add_argument('--max-events', type=int, default=0, help='exit 0 after this many events (0: run until stopped)')
    p.add_argument('--max-backoff', type=float, default=5.0, help='longest wait between reconnects, in seconds')
    p.add_argument('--descriptors', default=DEFAULT_DESCRIPTORS, help='the audit.v1 FileDescriptorSet')
    return p.parse_args()


def main():
    args = parse_args()
    Request, Response = message_classes(args.descriptors, 'audit.v1.SubscribeRequest', 'audit.v1.SubscribeResponse')
    # grpc-core retries the connection on its own schedule too (up to 120 s apart by default): keep it
    # within ours, or a reconnect would wait for the channel long after the server is back.
    options = [('grpc.initial_reconnect_backoff_ms', 100), ('grpc.max_reconnect_backoff_ms', max(100, int(args.max_backoff * 1000)))]
    if args.ca:
        with open(args.ca, 'rb') as f:
            channel = grpc.secure_channel(args.server, grpc.ssl_channel_credentials(f.read()), options)
    else:
        channel = grpc.insecure_channel(args.server, options)
    subscribe = channel.unary_stream(SUBSCRIBE, request_serializer=Request.SerializeToString, response_deserializer=Response.FromString)
    metadata = [('authorization', f'Bearer {args.token}')] if args.token else []

    cursor = args.after_cursor  # where a reconnect resumes: the last event printed, or a newer heartbeat
    printed = 0
    attempt = 0
    call = None
    try:
        while True:
            request = json_format.ParseDict({
                'filter': {'event_types': args.types, 'expression': args.expression},
                'after_cursor': cursor,
                'client_name': 'python-subscriber',
            }, Request())
            call = subscribe(request, metadata=metadata)
            try:
                for message in call:
                    kind = message.WhichOneof('kind')
                    if kind == 'started':
                        attempt = 0  # connected: the next loss starts the backoff afresh
                        # When starting live, this is "now": resuming from it after a loss misses nothing.
                        cursor = cursor or message.started.resume_cursor
                        log(f'subscribed: {message.started.subscription_id} after cursor {cursor}')
                    elif kind == 'events':
                        for event in message.events.events:
                            print(json.dumps(json_format.MessageToDict(event), separators=(',', ':')), flush=True)
                            cursor = event.cursor
                            printed += 1
                            if printed == args.max_events:
                                return 0
                    elif kind == 'heartbeat' and message.heartbeat.resume_cursor:
                        # Moves past events the filter skipped, so a resume does not re-read them.
                        cursor = message.heartbeat.resume_cursor
                    elif kind == 'gap':
                        log(f'gap: events {message.gap.from_sequence}..{message.gap.to_sequence} are no longer stored')
                log('the server ended the stream (OK)')  # Unsubscribe, or a time range that has passed
                return 0
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE:
                    log(f'{err.code().name}: {err.details()}')
                    return 1
                attempt += 1
                # Exponential backoff with jitter, so many subscribers do not all return at once.
                delay = min(args.max_backoff, 0.1 * 2 ** min(attempt - 1, 20)) * random.uniform(0.5, 1.0)
                log(f'UNAVAILABLE ({err.details()}); reconnecting in {delay:.2f} s, resuming after cursor {cursor or "(live)"}')
                time.sleep(delay)
    except KeyboardInterrupt:  # SIGINT or SIGTERM (see on_signal)
        log(f'stopped; resume with --after-cursor {cursor}' if cursor else 'stopped')
        return 0
    finally:
        if call is not None:
            call.cancel()  # frees the subscription on the server at once
        channel.close()


def on_signal(_signum, _frame):
    raise KeyboardInterrupt


if __name__ == '__main__':
    # SIGTERM too (a service manager's stop), and SIGINT explicitly: Python leaves SIGINT ignored when
    # started in the background of a non-interactive shell, and `kill -INT` should still stop it.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sys.exit(main())
