"""Admission: moves queued tasks onto RQ queues while their limits allow."""
