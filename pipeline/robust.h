/* Robust-statistics constants shared by the stages. */
#ifndef KR_ROBUST_H
#define KR_ROBUST_H

/* MAD -> standard deviation for normally distributed data: 1/Phi^-1(3/4) = 1.4826022...
 * (Rousseeuw & Croux 1993, J. Am. Stat. Assoc. 88, 1273, eq. 1.2), rounded to 1.4826 as in R's mad(). */
#define KR_MAD_TO_SD 1.4826

#endif
