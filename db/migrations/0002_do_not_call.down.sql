DROP TABLE do_not_call;
