import { z } from 'zod';
import { defineRequest } from '../contract';
import { ServiceName } from '../common';

export const PingRequest = z.object({ from: z.string().min(1).max(64) });
export const PingReply = z.object({ service: ServiceName, instance: z.string(), time: z.string() });

/** Round trip to one service; answered by every instance of it (queue group picks one). */
export const pingContract = (service: ServiceName) =>
  defineRequest(`muelle.${service}.ping.v1`, PingRequest, PingReply, 2_000);
