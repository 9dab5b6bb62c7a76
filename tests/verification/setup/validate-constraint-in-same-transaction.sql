ALTER TABLE world.orders ADD CONSTRAINT orders_coupon_id_fkey FOREIGN KEY (coupon_id) REFERENCES world.coupons (id) NOT VALID;
