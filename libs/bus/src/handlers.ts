import {
  EventContract,
  InternalError,
  ParsedRequestOf,
  PayloadOf,
  ReplyOf,
  RequestContract,
  toMuelleError,
  validateMessage,
} from '@muelle/contracts';
import { Logger } from '@nestjs/common';
import { EventPattern, MessagePattern, RpcException } from '@nestjs/microservices';
import { z } from 'zod';

const logger = new Logger('Bus');

type RequestMethod<C> = (payload: ParsedRequestOf<C>) => Promise<ReplyOf<C>> | ReplyOf<C>;

/**
 * Marks a controller method as the handler of a request contract. The request is validated
 * before the method runs and the reply after; any failure goes back as a typed error reply
 * (`{code, message}`), so a bad message never crashes or hangs the service.
 */
export function HandleRequest<C extends RequestContract<z.ZodType, z.ZodType>>(contract: C) {
  return (target: object, key: string | symbol, descriptor: PropertyDescriptor): void => {
    const original = descriptor.value as RequestMethod<C>;
    descriptor.value = async function (this: unknown, data: unknown) {
      try {
        const request = validateMessage(contract.request, data, `request for ${contract.subject}`);
        const reply = await original.call(this, request as ParsedRequestOf<C>);
        try {
          return validateMessage(contract.reply, reply, `reply of ${contract.subject}`);
        } catch (error) {
          logger.error(`handler for ${contract.subject} produced an invalid reply: ${(error as Error).message}`);
          throw new InternalError(`invalid reply from ${contract.subject}`);
        }
      } catch (error) {
        const typed = toMuelleError(error);
        if (typed.code === 'INTERNAL') logger.error(`${contract.subject} failed: ${(error as Error)?.stack ?? error}`);
        throw new RpcException(typed.toWire());
      }
    } as RequestMethod<C>;
    copyMetadata(original, descriptor.value);
    MessagePattern(contract.subject)(target, key, descriptor);
  };
}

type EventMethod<C> = (payload: PayloadOf<C>) => Promise<void> | void;

/**
 * Marks a controller method as a handler of an event contract; invalid events are logged and dropped.
 * By default replicas of a service share an event (their queue group: one of them handles it);
 * `everyReplica` subscribes outside the queue group, so each replica gets its own copy (cache
 * invalidation).
 */
export function HandleEvent<C extends EventContract<z.ZodType>>(contract: C, options: { everyReplica?: boolean } = {}) {
  return (target: object, key: string | symbol, descriptor: PropertyDescriptor): void => {
    const original = descriptor.value as EventMethod<C>;
    descriptor.value = async function (this: unknown, data: unknown) {
      try {
        await original.call(this, validateMessage(contract.payload, data, `event ${contract.subject}`) as PayloadOf<C>);
      } catch (error) {
        logger.warn(`event ${contract.subject} dropped: ${(error as Error).message}`);
      }
    } as EventMethod<C>;
    copyMetadata(original, descriptor.value);
    // An empty queue name means no queue group to nats.js (and the in-process broker has none).
    if (options.everyReplica) EventPattern(contract.subject, { queue: '' })(target, key, descriptor);
    else EventPattern(contract.subject)(target, key, descriptor);
  };
}

function copyMetadata(from: object, to: object): void {
  for (const metaKey of Reflect.getMetadataKeys(from)) Reflect.defineMetadata(metaKey, Reflect.getMetadata(metaKey, from), to);
}
